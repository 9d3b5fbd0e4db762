using PaliGemma2.DocPipeline.Documents.Pdf;
using PaliGemma2.DocPipeline.Tests.Shared;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Processing;

namespace PaliGemma2.DocPipeline.Documents.Tests.Pdf;

public sealed class PdfRendererTests : IDisposable
{
    private readonly string _out = Path.Combine(Path.GetTempPath(), "docpipe-render-test-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_out))
        {
            Directory.Delete(_out, recursive: true);
        }
    }

    [Theory]
    [InlineData(PdfRendererKind.Mutool)]
    [InlineData(PdfRendererKind.Pdftoppm)]
    public async Task Both_renderers_produce_every_page_with_the_long_side_at_the_target(PdfRendererKind kind)
    {
        var renderer = new PdfRenderer(new PdfRenderOptions { Renderer = kind });
        var output = await renderer.RenderAsync(PdfCorpus.File("ltxtable.pdf"), 1, 3, 896, _out, CancellationToken.None);
        Assert.Equal(3, output.Files.Count);
        Assert.Empty(output.Errors);
        foreach (var file in output.Files)
        {
            var info = await Image.IdentifyAsync(file);
            Assert.Equal(896, Math.Max(info.Width, info.Height));
        }
    }

    [Theory]
    [InlineData(PdfRendererKind.Mutool)]
    [InlineData(PdfRendererKind.Pdftoppm)]
    public async Task Each_page_is_handed_over_once_complete_and_in_order_while_the_run_reports_them_all(PdfRendererKind kind)
    {
        var renderer = new PdfRenderer(new PdfRenderOptions { Renderer = kind });
        var handed = new List<(int Page, int Width, int Height)>();
        var run = await renderer.RunAsync(kind, PdfCorpus.File("longtable.pdf"), 2, 9, 448, _out, CancellationToken.None, async (page, file) =>
        {
            // ImageSharp's PNM decoder reads the whole file: a page handed over half-written would fail here.
            using var image = await Image.LoadAsync(file);
            handed.Add((page, image.Width, image.Height));
            File.Delete(file);
        });

        Assert.Equal(0, run.ExitCode);
        Assert.Equal(Enumerable.Range(2, 8), handed.Select(h => h.Page));
        Assert.Equal(Enumerable.Range(2, 8), run.Pages.Keys);
        Assert.All(handed, h => Assert.Equal(448, Math.Max(h.Width, h.Height)));
    }

    [Fact]
    public async Task A_page_range_renders_only_those_pages()
    {
        var renderer = new PdfRenderer(new PdfRenderOptions());
        var output = await renderer.RenderAsync(PdfCorpus.File("tabularx.pdf"), 4, 6, 224, _out, CancellationToken.None);
        Assert.Equal(3, output.Files.Count);

        // The files are those pages: each looks most like poppler's rendering of that page number.
        var tabularx = PdfCorpus.File("tabularx.pdf");
        var prefix = Path.Combine(_out, "poppler");
        PdfCorpus.Run("pdftoppm", "-scale-to", "224", "-png", tabularx, prefix);
        var poppler = new List<double[]>();
        foreach (var file in Directory.GetFiles(_out, "poppler*.png").Order(StringComparer.Ordinal))
        {
            poppler.Add(await FingerprintAsync(file));
        }

        Assert.Equal(PdfCorpus.PopplerPageCount(tabularx), poppler.Count);
        for (var i = 0; i < 3; i++)
        {
            var ours = await FingerprintAsync(output.Files[i]);
            var closest = Enumerable.Range(0, poppler.Count).MinBy(p => poppler[p].Zip(ours, (x, y) => Math.Abs(x - y)).Sum());
            Assert.Equal(3 + i, closest);
        }
    }

    [Theory]
    [InlineData(DamagedPdfs.Truncated)]
    [InlineData(DamagedPdfs.ObjectStreamsFuzzed)]
    public async Task A_file_the_renderer_cannot_draw_is_rejected_with_its_error(string name)
    {
        var renderer = new PdfRenderer(new PdfRenderOptions());
        var ex = await Assert.ThrowsAsync<DocumentRejectedException>(() =>
            renderer.RenderAsync(PdfCorpus.File(name), 1, 1, 896, _out, CancellationToken.None));
        Assert.Contains("could not render pages 1-1", ex.Message, StringComparison.Ordinal);
        Assert.Contains("error: ", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_memory_limit_is_enforced_on_the_child_process()
    {
        // 16 MiB of address space is far below what mutool needs to start: the limit must bite.
        var renderer = new PdfRenderer(new PdfRenderOptions { MemoryLimitBytes = 16L << 20 });
        await Assert.ThrowsAsync<DocumentRejectedException>(() =>
            renderer.RenderAsync(PdfCorpus.File("dcolumn.pdf"), 1, 1, 896, _out, CancellationToken.None));

        var roomy = new PdfRenderer(new PdfRenderOptions { MemoryLimitBytes = 1L << 30 });
        Assert.Single((await roomy.RenderAsync(PdfCorpus.File("dcolumn.pdf"), 1, 1, 896, Path.Combine(_out, "ok"), CancellationToken.None)).Files);
    }

    [Fact]
    public async Task Damage_the_renderer_repairs_is_reported_not_hidden()
    {
        var renderer = new PdfRenderer(new PdfRenderOptions());
        var output = await renderer.RenderAsync(PdfCorpus.File(DamagedPdfs.BrokenXref), 1, 1, 896, _out, CancellationToken.None);
        Assert.Single(output.Files);
        Assert.NotEmpty(output.Errors);
        Assert.All(output.Errors, e => Assert.StartsWith("error:", e, StringComparison.Ordinal));

        // Repaired, not guessed: the page is the one the intact file gives.
        var intact = await renderer.RenderAsync(PdfCorpus.File(DamagedPdfs.Source), 1, 1, 896, Path.Combine(_out, "intact"), CancellationToken.None);
        Assert.Equal(await File.ReadAllBytesAsync(intact.Files[0]), await File.ReadAllBytesAsync(output.Files[0]));
    }

    [Fact]
    public async Task Damaged_content_streams_are_reported_and_draw_nothing()
    {
        var renderer = new PdfRenderer(new PdfRenderOptions());
        var output = await renderer.RenderAsync(PdfCorpus.File(DamagedPdfs.ContentFuzzed), 1, 1, 896, _out, CancellationToken.None);
        Assert.Single(output.Files);
        Assert.Contains(output.Errors, e => e.Contains("zlib", StringComparison.Ordinal));
        using var page = await Image.LoadAsync<SixLabors.ImageSharp.PixelFormats.L8>(output.Files[0]);
        var pixels = new SixLabors.ImageSharp.PixelFormats.L8[page.Width * page.Height];
        page.CopyPixelDataTo(pixels);
        Assert.All(pixels, p => Assert.Equal(255, p.PackedValue));
    }

    // Mean grey level of each cell of a 16x16 grid: close for the same page from two renderers.
    private static async Task<double[]> FingerprintAsync(string file)
    {
        using var image = await Image.LoadAsync<SixLabors.ImageSharp.PixelFormats.L8>(file);
        image.Mutate(x => x.Resize(16, 16));
        var pixels = new SixLabors.ImageSharp.PixelFormats.L8[256];
        image.CopyPixelDataTo(pixels);
        return [.. pixels.Select(p => (double)p.PackedValue)];
    }
}
