using PaliGemma2.DocPipeline.Inference;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace PaliGemma2.DocPipeline.Pipeline.Tests;

/// <summary>
/// Page images for the demo table checkpoint (models/demo/table, 224 px): one on which the model writes the
/// byte-fallback token &lt;0x00&gt; (U+0000, which PostgreSQL refuses), found by decoding 800 seeded block-noise
/// images (seeds 81, 129 and 161 of this generator do it), and neighbours on which it does not.
/// </summary>
internal static class NulOutputPage
{
    public const int NulSeed = 81;

    public static string DemoTable => Path.Combine(DocPipeline.Tests.Shared.TestServices.RepoRoot, "models", "demo", "table");

    /// <summary>224×224 noise in square blocks (side 1 + (seed mod 7) × 8), each block's colour from <c>new Random(...)</c>.</summary>
    public static Image<Rgb24> Create(int seed)
    {
        var image = new Image<Rgb24>(224, 224);
        var block = 1 + (seed % 7) * 8;
        for (var y = 0; y < 224; y++)
        {
            for (var x = 0; x < 224; x++)
            {
                var r = new Random((seed * 100000) + ((y / block) * 1000) + (x / block));
                image[x, y] = new Rgb24((byte)r.Next(256), (byte)r.Next(256), (byte)r.Next(256));
            }
        }

        return image;
    }

    public static string WritePng(int seed, string folder)
    {
        var path = Path.Combine(folder, $"noise-{seed}.png");
        using var image = Create(seed);
        image.SaveAsPng(path);
        return path;
    }

    /// <summary>What the demo checkpoint writes for the page, decoded directly (no pipeline).</summary>
    public static async Task<string> DecodeDirectlyAsync(int seed)
    {
        using var model = PaliGemmaModel.Load(DemoTable);
        using var image = Create(seed);
        var result = await model.GenerateAsync([new GenerationRequest(image, "", 64)]);
        return result[0].Text;
    }
}
