using PaliGemma2.DocPipeline.Documents.Pdf;
using SixLabors.ImageSharp;

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
        var output = await renderer.RenderAsync(PdfCorpus.File("basicapi.pdf"), 1, 3, 896, _out, CancellationToken.None);
        Assert.Equal(3, output.Files.Count);
        foreach (var file in output.Files)
        {
            var info = await Image.IdentifyAsync(file);
            Assert.Equal(896, Math.Max(info.Width, info.Height));
        }
    }

    [Fact]
    public async Task A_page_range_renders_only_those_pages()
    {
        var renderer = new PdfRenderer(new PdfRenderOptions());
        var output = await renderer.RenderAsync(PdfCorpus.File("labelled_pages.pdf"), 4, 6, 224, _out, CancellationToken.None);
        Assert.Equal(3, output.Files.Count);
    }

    [Fact]
    public async Task A_file_the_renderer_cannot_draw_is_rejected_with_its_error()
    {
        var renderer = new PdfRenderer(new PdfRenderOptions());
        var ex = await Assert.ThrowsAsync<DocumentRejectedException>(() =>
            renderer.RenderAsync(PdfCorpus.File("GHOSTSCRIPT-698804-1-fuzzed.pdf"), 1, 1, 896, _out, CancellationToken.None));
        Assert.Contains("object out of range", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_memory_limit_is_enforced_on_the_child_process()
    {
        // 16 MiB of address space is far below what mutool needs to start: the limit must bite.
        var renderer = new PdfRenderer(new PdfRenderOptions { MemoryLimitBytes = 16L << 20 });
        await Assert.ThrowsAsync<DocumentRejectedException>(() =>
            renderer.RenderAsync(PdfCorpus.File("basicapi.pdf"), 1, 1, 896, _out, CancellationToken.None));

        var roomy = new PdfRenderer(new PdfRenderOptions { MemoryLimitBytes = 1L << 30 });
        Assert.Single((await roomy.RenderAsync(PdfCorpus.File("basicapi.pdf"), 1, 1, 896, Path.Combine(_out, "ok"), CancellationToken.None)).Files);
    }

    [Fact]
    public async Task Damage_the_renderer_repairs_is_reported_not_hidden()
    {
        var renderer = new PdfRenderer(new PdfRenderOptions());
        var output = await renderer.RenderAsync(PdfCorpus.File("PDFBOX-3148-2-fuzzed.pdf"), 1, 1, 896, _out, CancellationToken.None);
        Assert.Single(output.Files);
        Assert.NotEmpty(output.Errors);
        Assert.All(output.Errors, e => Assert.StartsWith("error:", e, StringComparison.Ordinal));
    }
}
