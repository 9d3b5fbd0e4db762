using System.Globalization;
using System.Xml;
using PaliGemma2.DocPipeline.Documents.Processes;

namespace PaliGemma2.DocPipeline.Documents.Pdf;

/// <summary>
/// Reads a PDF's text layer (words with boxes, producer, title) with poppler's <c>pdftotext -bbox</c>, run like the
/// renderers: a child process under <c>prlimit</c> and a wall-clock timeout. Poppler's C++ reads a page's words about ten
/// times faster than PdfPig did in the decoder process (docs/benchmarks.md), and a file that crashes or balloons it ends
/// that child only.
/// </summary>
public static class PdfTextLayer
{
    // A page of words in pdftotext's XHTML is a few hundred KiB at most; far more is a content bomb, not a text layer.
    private const long MaxOutputBytesPerPage = 4L << 20;

    /// <summary>Reads pages 1..<paramref name="lastPage"/> (fewer when the file has fewer).</summary>
    /// <param name="pdfPath">The PDF.</param>
    /// <param name="lastPage">Last page to read (the document's page count, or the page limit).</param>
    /// <param name="limits">Memory and per-page time limits (the renderers' own).</param>
    /// <param name="scratch">A folder this call may write into.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <exception cref="DocumentRejectedException">poppler cannot read the text (plain reason; its stderr is on the inner exception).</exception>
    public static async Task<PdfInfo> ReadAsync(string pdfPath, int lastPage, PdfRenderOptions limits, string scratch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(limits);
        Directory.CreateDirectory(scratch);
        var output = Path.Combine(scratch, "words.html");
        var pages = Math.Max(1, lastPage);
        var run = new ChildProcess.Limits(TimeSpan.FromSeconds(5) + (limits.TimeoutPerPage * pages), limits.MemoryLimitBytes);
        var outcome = await ChildProcess.RunAsync(
            "pdftotext", ["-q", "-bbox", "-enc", "UTF-8", "-l", pages.ToString(CultureInfo.InvariantCulture), pdfPath, output], run, cancellationToken)
            .ConfigureAwait(false);
        var size = File.Exists(output) ? new FileInfo(output).Length : 0;
        if (outcome.ExitCode != 0 || size == 0)
        {
            var why = outcome.TimedOut ? "poppler timed out reading it" : $"poppler exited with status {outcome.ExitCode}";
            throw new DocumentRejectedException(Reasons.TextLayerUnreadable, $"The text layer cannot be read ({why}).", new IOException(outcome.StdErr));
        }

        if (size > MaxOutputBytesPerPage * pages)
        {
            throw new DocumentRejectedException(Reasons.TextLayerUnreadable, $"The text layer is implausibly large ({size} bytes for at most {pages} page(s)).");
        }

        try
        {
            return Parse(output);
        }
        catch (XmlException ex)
        {
            throw new DocumentRejectedException(Reasons.TextLayerUnreadable, "The text layer cannot be read (poppler's output is not well-formed).", ex);
        }
    }

    /// <summary>Parses pdftotext's <c>-bbox</c> XHTML: <c>meta</c> Producer, <c>title</c>, <c>page</c> sizes, <c>word</c> boxes (top-left origin, points).</summary>
    internal static PdfInfo Parse(string path)
    {
        var settings = new XmlReaderSettings
        {
            // The DOCTYPE names the XHTML DTD by URL: never fetched. PDF text may hold characters XML forbids.
            DtdProcessing = DtdProcessing.Ignore,
            XmlResolver = null,
            CheckCharacters = false,
            IgnoreWhitespace = true,
        };
        string? producer = null, title = null;
        var pages = new List<PdfPageText>();
        List<PdfWord>? words = null;
        double width = 0, height = 0;
        using var reader = XmlReader.Create(path, settings);
        reader.Read();
        while (!reader.EOF)
        {
            // ReadElementContentAsString leaves the reader on the next node already: no Read() after it.
            if (reader.NodeType == XmlNodeType.Element && reader.LocalName == "word" && words is not null)
            {
                var (x0, y0, x1, y1) = (Number(reader, "xMin"), Number(reader, "yMin"), Number(reader, "xMax"), Number(reader, "yMax"));
                var text = reader.ReadElementContentAsString();
                if (!string.IsNullOrWhiteSpace(text))
                {
                    words.Add(new PdfWord(text.Replace("\0", "", StringComparison.Ordinal), Math.Round(x0, 2), Math.Round(y0, 2), Math.Round(x1, 2), Math.Round(y1, 2)));
                }

                continue;
            }

            if (reader.NodeType == XmlNodeType.Element && reader.LocalName == "title")
            {
                title = Clean(reader.ReadElementContentAsString());
                continue;
            }

            if (reader.NodeType == XmlNodeType.Element && reader.LocalName == "meta" && reader.GetAttribute("name") == "Producer")
            {
                producer = Clean(reader.GetAttribute("content"));
            }
            else if (reader.NodeType == XmlNodeType.Element && reader.LocalName == "page")
            {
                (width, height) = (Number(reader, "width"), Number(reader, "height"));
                words = [];
                if (reader.IsEmptyElement)
                {
                    pages.Add(new PdfPageText(width, height, words));
                    words = null;
                }
            }
            else if (reader.NodeType == XmlNodeType.EndElement && reader.LocalName == "page" && words is not null)
            {
                pages.Add(new PdfPageText(width, height, words));
                words = null;
            }

            reader.Read();
        }

        return new PdfInfo(pages.Count, producer, title, pages);
    }

    private static double Number(XmlReader reader, string attribute) =>
        double.TryParse(reader.GetAttribute(attribute), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value) ? value : 0;

    private static string? Clean(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim().Replace("\0", "", StringComparison.Ordinal);
}
