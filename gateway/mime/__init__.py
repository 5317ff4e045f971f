"""MIME parsing and text extraction: one raw message in, text chunks and unscannable items out."""
