"""Reading invitation PDFs back as a person and a scanner would: each page's text (PDFium)
and every QR code on it (rendered at 150 dpi, decoded by zxing-cpp)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    text: str
    codes: tuple[str, ...]  # the QR codes' texts, top to bottom, left to right
    size_pt: tuple[float, float]


def read_pages(pdf: bytes, *, dpi: int = 150) -> list[Page]:
    import pypdfium2 as pdfium
    import zxingcpp

    doc = pdfium.PdfDocument(pdf)
    pages = []
    for page in doc:
        image = page.render(scale=dpi / 72, grayscale=True).to_pil()
        found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
        found = sorted(found, key=lambda r: (r.position.top_left.y // 50,
                                             r.position.top_left.x))
        text = page.get_textpage().get_text_range()
        pages.append(Page(text.replace("\r\n", "\n"), tuple(r.text for r in found),
                          tuple(page.get_size())))  # type: ignore[arg-type]
    return pages
