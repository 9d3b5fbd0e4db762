using PaliGemma2.DocPipeline.Documents.Pdf;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.Documents.Tests.Pdf;

public sealed class PdfInspectorTests
{
    [Theory]
    [InlineData("dcolumn.pdf")]
    [InlineData("hhline.pdf")]
    [InlineData("ltxtable.pdf")]
    [InlineData("longtable.pdf")]
    [InlineData("upref.pdf")]
    [InlineData("delarray.pdf")]
    public void Page_count_and_words_agree_with_poppler(string name)
    {
        var path = PdfCorpus.File(name);
        var info = PdfInspector.Inspect(path, new PdfRenderOptions());

        var pages = PdfCorpus.PopplerPageCount(path);
        Assert.Equal(pages, info.PageCount);
        Assert.Equal(pages, info.Pages.Count);

        // Every word poppler extracts from page 1 that is plain ASCII letters must be among ours.
        var ours = info.Pages[0].Words.Select(w => w.Text).ToHashSet(StringComparer.Ordinal);
        var theirs = PdfCorpus.Run("pdftotext", "-f", "1", "-l", "1", path, "-")
            .Split((char[])[' ', '\n', '\r', '\f', '\t'], StringSplitOptions.RemoveEmptyEntries)
            .Where(w => w.Length > 2 && w.All(char.IsAsciiLetter)).Distinct().ToList();
        Assert.NotEmpty(theirs);
        var found = theirs.Count(ours.Contains);
        Assert.True(found >= theirs.Count * 0.9, $"only {found} of {theirs.Count} poppler words found: missing {string.Join(' ', theirs.Where(w => !ours.Contains(w)).Take(10))}");
    }

    [Fact]
    public void Word_boxes_are_top_left_origin_inside_the_page()
    {
        var path = PdfCorpus.File("dcolumn.pdf");
        var info = PdfInspector.Inspect(path, new PdfRenderOptions());
        var page = info.Pages[0];
        Assert.All(page.Words, w =>
        {
            Assert.InRange(w.X0, 0, w.X1);
            Assert.InRange(w.Y0, 0, w.Y1);
            Assert.InRange(w.X1, w.X0, page.Width);
            Assert.InRange(w.Y1, w.Y0, page.Height);
        });
        // The first line of text is near the top of the page in image coordinates.
        Assert.True(page.Words.Min(w => w.Y0) < page.Height / 2);
        var producer = PdfCorpus.Run("pdfinfo", path).Split('\n').Single(l => l.StartsWith("Producer:", StringComparison.Ordinal))[9..].Trim();
        Assert.Equal(producer, info.Producer);
    }

    [Fact]
    public void Non_pdf_and_over_limit_files_are_rejected_with_reasons()
    {
        var text = Path.GetTempFileName();
        try
        {
            File.WriteAllText(text, "hello");
            var ex = Assert.Throws<DocumentRejectedException>(() => PdfInspector.Inspect(text, new PdfRenderOptions()));
            Assert.Equal(Reasons.PdfUnreadable, ex.Code);
            // Plain words; PdfPig's own exception text stays on the inner exception (for the log).
            Assert.DoesNotContain("Exception", ex.Message, StringComparison.Ordinal);
            Assert.NotNull(ex.InnerException);
        }
        finally
        {
            File.Delete(text);
        }

        var big = Assert.Throws<DocumentRejectedException>(() => PdfInspector.Inspect(PdfCorpus.File("dcolumn.pdf"), new PdfRenderOptions { MaxFileBytes = 1000 }));
        Assert.Contains("limit", big.Message, StringComparison.Ordinal);
        Assert.Equal(Reasons.TooLarge, big.Code);
        var tabularx = PdfCorpus.File("tabularx.pdf");
        var many = Assert.Throws<DocumentRejectedException>(() => PdfInspector.Inspect(tabularx, new PdfRenderOptions { MaxPages = 5 }));
        Assert.Contains($"{PdfCorpus.PopplerPageCount(tabularx)} pages", many.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(DamagedPdfs.Truncated)]
    [InlineData(DamagedPdfs.ObjectStreamsFuzzed)]
    public void A_pdf_without_a_readable_page_tree_is_rejected_like_poppler_rejects_it(string name)
    {
        var path = PdfCorpus.File(name);
        Assert.DoesNotContain("Pages:", PdfCorpus.Run("pdfinfo", path), StringComparison.Ordinal);
        var ex = Assert.Throws<DocumentRejectedException>(() => PdfInspector.Inspect(path, new PdfRenderOptions()));
        Assert.Equal(Reasons.PdfUnreadable, ex.Code);
    }
}
