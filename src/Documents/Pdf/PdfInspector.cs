using System.Text.Json.Serialization;
using UglyToad.PdfPig;
using UglyToad.PdfPig.Core;

namespace PaliGemma2.DocPipeline.Documents.Pdf;

/// <summary>A PDF's text layer: page count, producer, title and each page's words with boxes (poppler's pdftotext, or PdfPig).</summary>
public sealed record PdfInfo(int PageCount, string? Producer, string? Title, IReadOnlyList<PdfPageText> Pages);

/// <summary>A page's size in points and its words; empty for scanned pages.</summary>
public sealed record PdfPageText(
    [property: JsonPropertyName("width")] double Width,
    [property: JsonPropertyName("height")] double Height,
    [property: JsonPropertyName("words")] IReadOnlyList<PdfWord> Words);

/// <summary>A word and its box in PDF points, origin top-left (image convention), x0 &lt; x1, y0 &lt; y1.</summary>
public sealed record PdfWord(
    [property: JsonPropertyName("text")] string Text,
    [property: JsonPropertyName("x0")] double X0,
    [property: JsonPropertyName("y0")] double Y0,
    [property: JsonPropertyName("x1")] double X1,
    [property: JsonPropertyName("y1")] double Y1);

/// <summary>Reads PDF structure and text with PdfPig (which does not render).</summary>
public static class PdfInspector
{
    /// <summary>Opens the PDF and reads its text layer.</summary>
    /// <exception cref="DocumentRejectedException">Not a readable PDF, or over the limits.</exception>
    public static PdfInfo Inspect(string path, PdfRenderOptions limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        CheckSize(path, limits);
        try
        {
            using var pdf = PdfDocument.Open(path, Lenient);
            var count = CheckPages(pdf.NumberOfPages, limits);

            var pages = new List<PdfPageText>(count);
            for (var i = 1; i <= count; i++)
            {
                var page = pdf.GetPage(i);
                var height = page.Height;
                var words = page.GetWords()
                    .Where(w => !string.IsNullOrWhiteSpace(w.Text))
                    .Select(w => ToTopLeft(w.Text, w.BoundingBox, height))
                    .ToArray();
                pages.Add(new PdfPageText(page.Width, height, words));
            }

            return new PdfInfo(count, Clean(pdf.Information.Producer), Clean(pdf.Information.Title), pages);
        }
        catch (DocumentRejectedException)
        {
            throw;
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
        {
            // PdfPig throws many exception types on broken files; all of them mean "not a readable PDF".
            throw new DocumentRejectedException(Reasons.PdfUnreadable, "PdfPig cannot read this PDF's structure.", ex);
        }
    }

    private static readonly ParsingOptions Lenient = new() { UseLenientParsing = true, SkipMissingFonts = true };

    private static void CheckSize(string path, PdfRenderOptions limits)
    {
        var size = new FileInfo(path).Length;
        if (size > limits.MaxFileBytes)
        {
            throw new DocumentRejectedException(Reasons.TooLarge, $"PDF is {size} bytes; the limit is {limits.MaxFileBytes}.");
        }
    }

    private static int CheckPages(int count, PdfRenderOptions limits) =>
        count < 1 ? throw new DocumentRejectedException(Reasons.PdfNoPages, "PDF has no pages.")
        : count > limits.MaxPages ? throw new DocumentRejectedException(Reasons.TooLarge, $"PDF has {count} pages; the limit is {limits.MaxPages}.")
        : count;

    private static PdfWord ToTopLeft(string text, PdfRectangle box, double pageHeight) =>
        new(text, Math.Round(box.Left, 2), Math.Round(pageHeight - box.Top, 2), Math.Round(box.Right, 2), Math.Round(pageHeight - box.Bottom, 2));

    private static string? Clean(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim().Replace("\0", "", StringComparison.Ordinal);
}
