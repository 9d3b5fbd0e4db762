using PaliGemma2.DocPipeline.Documents.Images;
using PaliGemma2.DocPipeline.Tests.Shared;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace PaliGemma2.DocPipeline.Documents.Tests.Images;

public sealed class RenderedPagesTests : IDisposable
{
    private readonly string _out = Path.Combine(Path.GetTempPath(), "docpipe-rendered-test-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_out))
        {
            Directory.Delete(_out, recursive: true);
        }
    }

    [Theory]
    [InlineData("mutool")]
    [InlineData("pdftoppm")]
    public async Task A_renderers_page_becomes_a_png_with_the_same_pixels(string tool)
    {
        var ppm = await RenderAsync(tool, Path.Combine(Corpus.RepoRoot, "samples", "revenue-table.pdf"));

        using var png = new MemoryStream();
        var written = RenderedPages.TryWritePng(ppm, 896, png);

        // ImageSharp's PNG and PNM decoders, not our writer, say what the pixels are.
        Assert.NotNull(written);
        Assert.False(written.IsBlank);
        png.Position = 0;
        Assert.Equal(PngFormatName, Image.DetectFormat(png)?.Name);
        png.Position = 0;
        using var decoded = Image.Load<Rgb24>(png);
        using var reference = Image.Load<Rgb24>(ppm);
        Assert.Equal((reference.Width, reference.Height), (decoded.Width, decoded.Height));
        Assert.Equal((reference.Width, reference.Height), (written.Width, written.Height));
        Assert.Equal(Pixels(reference), Pixels(decoded));
    }

    [Theory]
    [InlineData(false, 0)]
    [InlineData(true, 2)]
    public void A_grey_page_is_stored_as_grey_and_one_coloured_pixel_keeps_it_rgb_with_the_same_pixels(bool oneColouredPixel, int colourType)
    {
        var ppm = Ppm(64, 48, (x, y) => oneColouredPixel && x == 63 && y == 47 ? (200, 10, 10) : (x * 4, x * 4, x * 4));
        using var png = new MemoryStream();
        Assert.NotNull(RenderedPages.TryWritePng(ppm, 896, png));

        Assert.Equal(colourType, png.GetBuffer()[25]); // IHDR colour type: 0 grey, 2 RGB
        png.Position = 0;
        using var decoded = Image.Load<Rgb24>(png);
        using var reference = Image.Load<Rgb24>(ppm);
        Assert.Equal(Pixels(reference), Pixels(decoded));
    }

    [Fact]
    public void A_one_colour_page_is_blank_and_one_different_pixel_is_not()
    {
        var ppm = Ppm(40, 30, (x, y) => (250, 250, 250));
        Assert.True(RenderedPages.TryWritePng(ppm, 896, new MemoryStream())?.IsBlank);

        var dot = Ppm(40, 30, (x, y) => x == 39 && y == 29 ? (250, 250, 251) : (250, 250, 250));
        Assert.False(RenderedPages.TryWritePng(dot, 896, new MemoryStream())?.IsBlank);

        var firstRow = Ppm(40, 30, (x, y) => x == 7 && y == 0 ? (0, 250, 250) : (250, 250, 250));
        Assert.False(RenderedPages.TryWritePng(firstRow, 896, new MemoryStream())?.IsBlank);
    }

    [Fact]
    public void Other_pnm_kinds_and_pages_over_the_target_size_take_the_general_path()
    {
        Assert.Null(RenderedPages.TryWritePng(Ppm(40, 30, (x, y) => (1, 2, 3)), 39, new MemoryStream()));
        Assert.Null(RenderedPages.TryWritePng("P5\n4 4\n255\n"u8.ToArray().Concat(new byte[16]).ToArray(), 896, new MemoryStream()));
        Assert.Null(RenderedPages.TryWritePng("P6\n4 4\n65535\n"u8.ToArray().Concat(new byte[96]).ToArray(), 896, new MemoryStream()));
        Assert.Null(RenderedPages.TryWritePng("P6\n4 4\n255\n"u8.ToArray().Concat(new byte[47]).ToArray(), 896, new MemoryStream()));
    }

    private const string PngFormatName = "PNG";

    private async Task<byte[]> RenderAsync(string tool, string pdf)
    {
        Directory.CreateDirectory(_out);
        var args = tool == "mutool"
            ? new[] { "draw", "-q", "-F", "pnm", "-c", "rgb", "-w", "896", "-h", "896", "-o", Path.Combine(_out, "m%d.pnm"), pdf, "1" }
            : ["-q", "-f", "1", "-l", "1", "-scale-to", "896", pdf, Path.Combine(_out, "p")];
        var psi = new System.Diagnostics.ProcessStartInfo(tool) { RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var process = System.Diagnostics.Process.Start(psi)!;
        await process.WaitForExitAsync();
        Assert.Equal(0, process.ExitCode);
        return await File.ReadAllBytesAsync(Directory.GetFiles(_out).Single());
    }

    private static byte[] Ppm(int width, int height, Func<int, int, (int R, int G, int B)> pixel)
    {
        var header = System.Text.Encoding.ASCII.GetBytes($"P6\n# comment\n{width} {height}\n255\n");
        var data = new byte[header.Length + (width * height * 3)];
        header.CopyTo(data, 0);
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var (r, g, b) = pixel(x, y);
                var i = header.Length + (((y * width) + x) * 3);
                (data[i], data[i + 1], data[i + 2]) = ((byte)r, (byte)g, (byte)b);
            }
        }

        return data;
    }

    private static byte[] Pixels(Image<Rgb24> image)
    {
        var bytes = new byte[image.Width * image.Height * 3];
        image.CopyPixelDataTo(bytes);
        return bytes;
    }
}
