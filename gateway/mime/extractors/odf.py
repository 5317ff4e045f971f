"""OpenDocument text, spreadsheets and presentations: content, headers/footers (styles.xml), metadata, objects,
and hidden text: hidden and conditional text fields and variables keep their words in attributes."""

from __future__ import annotations

from gateway.mime.extractors.base import Context, Extractor, Item
from gateway.mime.extractors.package import collect, open_package
from gateway.mime.extractors.xmltext import XmlTextSpec
from gateway.mime.guards import EncryptedContent

ODF_SPEC = XmlTextSpec(
    line_tags=frozenset({"p", "h", "table-row", "list-item", "note-citation"}),
    cell_tags=frozenset({"table-cell"}),
    break_tags=frozenset({"line-break"}),
    tab_tags=frozenset({"tab"}),
    space_tags=frozenset({"s"}),
    skip_tags=frozenset({"binary-data", "script", "number-style", "date-style", "time-style"}),
    # Hidden and conditional text keeps its words in attributes (``text:hidden-text text:string-value``), as do
    # variables and user fields a document shows; frames and images carry names and descriptions.
    attr_tags=frozenset({"frame", "image", "hidden-text", "hidden-paragraph", "conditional-text", "variable-set",
                         "variable-decl", "user-field-decl", "user-defined", "sequence", "text-input"}),
    attr_names=frozenset({"name", "title", "desc", "string-value", "string-value-if-true", "string-value-if-false",
                          "value"}),
)


def _odf(item: Item, ctx: Context) -> None:
    texts: list[str] = []
    with open_package(item, ctx) as pkg:
        manifest = "META-INF/manifest.xml"
        if manifest in pkg.infos and b"encryption-data" in pkg.read(manifest):
            raise EncryptedContent("opendocument password-protected")
        content = ["content.xml", "styles.xml"]
        objects = [n for n in pkg.names if n.endswith("/content.xml") and n not in content]
        try:
            for name in [*content, *objects]:
                if name in pkg.infos:
                    ctx.deadline.check()
                    collect(texts, lambda n=name: pkg.text(n, ODF_SPEC))  # type: ignore[misc]
            if "meta.xml" in pkg.infos:
                collect(texts, lambda: pkg.properties("meta.xml"))
        finally:
            ctx.sink.add_text(item.location, "\n".join(texts), "attachment")


ODF = Extractor("odf", frozenset({"odf"}), _odf)
