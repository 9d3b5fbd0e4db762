using PaliGemma2.DocPipeline.Documents.Pdf;

namespace PaliGemma2.DocPipeline.Documents.Tests.Pdf;

public sealed class PdfTextLayerTests : IDisposable
{
    private readonly string _scratch = Path.Combine(Path.GetTempPath(), "docpipe-textlayer-test-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_scratch))
        {
            Directory.Delete(_scratch, recursive: true);
        }
    }

    [Theory]
    [InlineData("dcolumn.pdf")]
    [InlineData("hhline.pdf")]
    [InlineData("ltxtable.pdf")]
    [InlineData("longtable.pdf")]
    public async Task Words_and_their_boxes_agree_with_pdfpig_on_every_page(string name)
    {
        var path = PdfCorpus.File(name);
        var pages = PdfCorpus.PopplerPageCount(path);
        var ours = await PdfTextLayer.ReadAsync(path, pages, new PdfRenderOptions(), _scratch, CancellationToken.None);
        // PdfPig: another project's PDF parser and word segmenter, not poppler.
        var pdfPig = PdfInspector.Inspect(path, new PdfRenderOptions());

        Assert.Equal(pdfPig.PageCount, ours.PageCount);
        for (var p = 0; p < pages; p++)
        {
            Assert.Equal(pdfPig.Pages[p].Width, ours.Pages[p].Width, 0.5);
            Assert.Equal(pdfPig.Pages[p].Height, ours.Pages[p].Height, 0.5);
            var theirs = pdfPig.Pages[p].Words.Where(w => w.Text.Length > 2 && w.Text.All(char.IsAsciiLetter)).ToList();
            if (theirs.Count == 0)
            {
                continue;
            }

            // Each such PdfPig word has a word of the same text at the same x (within 1 pt) whose box holds PdfPig's
            // vertically: poppler's box is the font's line box (ascent to descent), PdfPig's the glyphs' own bounds.
            var matched = theirs.Count(t => ours.Pages[p].Words.Any(o => o.Text == t.Text
                && Math.Abs(o.X0 - t.X0) < 1 && Math.Abs(o.X1 - t.X1) < 1 && o.Y0 <= t.Y0 + 1 && o.Y1 >= t.Y1 - 1 && o.Y1 - o.Y0 < 2 * (t.Y1 - t.Y0) + 4));
            Assert.True(matched >= theirs.Count * 0.95, $"page {p + 1}: {matched} of {theirs.Count} PdfPig words matched in text and box");
        }
    }

    [Fact]
    public async Task Producer_and_title_are_what_pdfinfo_reports()
    {
        var path = PdfCorpus.File("dcolumn.pdf");
        var ours = await PdfTextLayer.ReadAsync(path, 1, new PdfRenderOptions(), _scratch, CancellationToken.None);
        var info = PdfCorpus.Run("pdfinfo", path).Split('\n');
        string? Field(string key) => info.SingleOrDefault(l => l.StartsWith(key + ":", StringComparison.Ordinal))?[(key.Length + 1)..].Trim() is { Length: > 0 } v ? v : null;
        Assert.Equal(Field("Producer"), ours.Producer);
        Assert.Equal(Field("Title"), ours.Title);
        Assert.Single(ours.Pages);
    }

    [Fact]
    public async Task A_file_poppler_cannot_read_is_refused_with_a_plain_reason()
    {
        Directory.CreateDirectory(_scratch);
        var junk = Path.Combine(_scratch, "junk.pdf");
        await File.WriteAllTextAsync(junk, "%PDF-1.7\nthis is not a PDF body");
        var ex = await Assert.ThrowsAsync<DocumentRejectedException>(() =>
            PdfTextLayer.ReadAsync(junk, 5, new PdfRenderOptions(), Path.Combine(_scratch, "out"), CancellationToken.None));
        Assert.Equal(Reasons.TextLayerUnreadable, ex.Code);
        Assert.DoesNotContain("Syntax", ex.Message, StringComparison.Ordinal);
    }
}
