using System.Runtime.InteropServices;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace PaliGemma2.DocPipeline.Inference.Tests;

/// <summary>ImagePreprocessor against a NumPy reference (python3-numpy, run live).</summary>
public sealed class PreprocessingTests
{
    [Theory]
    [InlineData(224, 224, ImageMode.Resize)]
    [InlineData(224, 224, ImageMode.Pad)]
    [InlineData(224, 150, ImageMode.Pad)]
    [InlineData(131, 224, ImageMode.Pad)]
    public void Matches_numpy_reference(int width, int height, ImageMode mode)
    {
        const int r = 224;
        var rgb = RandomRgb(width, height, seed: width * 1000 + height);
        var pre = new ImagePreprocessor(r, mode, Resample.Bicubic, PadColor.White);
        var actual = new float[pre.ImageElementCount];
        pre.Process(rgb, width, height, actual);
        using (var image = Image.LoadPixelData<Rgb24>(rgb, width, height))
        {
            var viaImage = new float[pre.ImageElementCount];
            pre.Process(image, viaImage);
            Assert.Equal(actual, viaImage);
        }

        var expected = NumpyReference(rgb, width, height, r);
        AssertClose(expected, actual);
    }

    [Fact]
    public void Resized_pad_to_square_keeps_aspect_and_white_bars()
    {
        const int r = 224;
        var rgb = RandomRgb(640, 320, seed: 7);
        using var image = Image.LoadPixelData<Rgb24>(rgb, 640, 320);
        var pre = new ImagePreprocessor(r, ImageMode.Pad, Resample.Bicubic, PadColor.White);
        var square = pre.ToSquareRgb(image);

        // 640x320 -> 224x112, centred: rows 0..55 and 168..223 are padding.
        Assert.All(square.AsSpan(0, 56 * r * 3).ToArray(), b => Assert.Equal(255, b));
        Assert.All(square.AsSpan(168 * r * 3).ToArray(), b => Assert.Equal(255, b));
        Assert.Contains(square.AsSpan(56 * r * 3, 112 * r * 3).ToArray(), b => b != 255);

        // The normalisation of what the model sees still matches NumPy bit for bit.
        var actual = new float[pre.ImageElementCount];
        pre.Process(image, actual);
        AssertClose(NumpyReference(square, r, r, r), actual);

        var stretched = new ImagePreprocessor(r, ImageMode.Resize, Resample.Bicubic, PadColor.White).ToSquareRgb(image);
        Assert.Contains(stretched.AsSpan(0, 56 * r * 3).ToArray(), b => b != 255);
    }

    [Fact]
    public void Pad_uses_the_declared_colour_and_resize_pads_nothing()
    {
        const int r = 224;
        var rgb = RandomRgb(300, 600, seed: 11);
        var black = new ImagePreprocessor(r, ImageMode.Pad, Resample.Bilinear, new PadColor(0, 0, 0)).ToSquareRgb(rgb, 300, 600);
        var grey = new ImagePreprocessor(r, ImageMode.Pad, Resample.Bilinear, new PadColor(128, 64, 32)).ToSquareRgb(rgb, 300, 600);

        // 300x600 -> 112x224, centred: columns 0..55 are the pad colour on every row.
        Assert.Equal([0, 0, 0], black.AsSpan(0, 3).ToArray());
        Assert.Equal([128, 64, 32], grey.AsSpan((100 * r * 3) + (55 * 3), 3).ToArray());
        Assert.Equal(black.AsSpan(((100 * r) + 56) * 3, 112 * 3).ToArray(), grey.AsSpan(((100 * r) + 56) * 3, 112 * 3).ToArray());
        Assert.True(PadColor.TryParse("#80402a", out var parsed) && parsed == new PadColor(128, 64, 42) && parsed.ToString() == "#80402a");
    }

    [Fact]
    public void Greyscale_becomes_three_equal_channels()
    {
        var gray = new byte[224 * 224];
        new Random(3).NextBytes(gray);
        var rgb = ImagePreprocessor.GrayToRgb(gray);
        var pre = new ImagePreprocessor(224, ImageMode.Resize, Resample.Bicubic, PadColor.White);
        var x = new float[pre.ImageElementCount];
        pre.Process(rgb, 224, 224, x);
        var plane = 224 * 224;
        Assert.Equal(x.AsSpan(0, plane).ToArray(), x.AsSpan(plane, plane).ToArray());
        Assert.Equal(x.AsSpan(0, plane).ToArray(), x.AsSpan(2 * plane, plane).ToArray());
        Assert.Equal(-1f, x.Min(), 6);
        Assert.Equal(1f, x.Max(), 6);
        AssertClose(NumpyReference(rgb, 224, 224, 224), x);
    }

    private static byte[] RandomRgb(int width, int height, int seed)
    {
        var rgb = new byte[width * height * 3];
        new Random(seed).NextBytes(rgb);
        return rgb;
    }

    private static float[] NumpyReference(byte[] rgb, int width, int height, int r)
    {
        var input = Path.GetTempFileName();
        var output = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(input, rgb);
            TestEnvironment.RunProcess(TestEnvironment.Python, [TestEnvironment.Script("preprocess_ref.py"), input, width.ToString(System.Globalization.CultureInfo.InvariantCulture), height.ToString(System.Globalization.CultureInfo.InvariantCulture), r.ToString(System.Globalization.CultureInfo.InvariantCulture), output]);
            return MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(output)).ToArray();
        }
        finally
        {
            File.Delete(input);
            File.Delete(output);
        }
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        var worst = 0f;
        for (var i = 0; i < expected.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        }

        Assert.True(worst <= 1e-6f, $"max |numpy - C#| = {worst}");
    }
}
