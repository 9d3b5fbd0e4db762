using System.Buffers;
using System.Runtime.InteropServices;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace PaliGemma2.DocPipeline.Inference;

/// <summary>How an image is brought to the model's square input size.</summary>
public enum ImageMode
{
    /// <summary>Keep the aspect ratio: scale the longer side to R, centre on a white R x R canvas (tables, molecules).</summary>
    PadToSquare,

    /// <summary>Stretch to R x R (the SigLIP processor's plain resize).</summary>
    Resize,
}

/// <summary>
/// Turns RGB images into the vision encoder's input: R x R, values (x / 255 - 0.5) / 0.5 in [-1, 1],
/// planar NCHW.
/// </summary>
public sealed class ImagePreprocessor
{
    // One float per byte value: the normalisation is then a table lookup, and it is bit-identical to
    // computing (x / 255f - 0.5f) / 0.5f in float32, which is what the references do.
    private static readonly float[] Lut = BuildLut();

    /// <summary>Creates a preprocessor for an R x R model input.</summary>
    public ImagePreprocessor(int resolution, ImageMode mode)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(resolution);
        Resolution = resolution;
        Mode = mode;
    }

    /// <summary>Side length R of the model input.</summary>
    public int Resolution { get; }

    /// <summary>Resize policy.</summary>
    public ImageMode Mode { get; }

    /// <summary>Number of floats one image occupies (3 x R x R).</summary>
    public int ImageElementCount => 3 * Resolution * Resolution;

    /// <summary>Expands 8-bit greyscale to packed RGB (the model always sees three channels).</summary>
    public static byte[] GrayToRgb(ReadOnlySpan<byte> gray)
    {
        var rgb = new byte[checked(gray.Length * 3)];
        var pixels = MemoryMarshal.Cast<byte, Rgb24>(rgb.AsSpan());
        for (var i = 0; i < gray.Length; i++)
        {
            var g = gray[i];
            pixels[i] = new Rgb24(g, g, g);
        }

        return rgb;
    }

    /// <summary>Writes one request's image as NCHW float32 into <paramref name="destination"/> (3 x R x R).</summary>
    public void Process(GenerationRequest request, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Image is { } image)
        {
            Process(image, destination);
        }
        else
        {
            Process(request.Rgb.Span, request.Width, request.Height, destination);
        }
    }

    /// <summary>Writes an ImageSharp image as NCHW float32 (3 x R x R).</summary>
    public void Process(Image<Rgb24> image, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(image);
        var r = Resolution;
        var square = ArrayPool<byte>.Shared.Rent(r * r * 3);
        try
        {
            var canvas = square.AsSpan(0, r * r * 3);
            Fit(image, canvas);
            Normalize(canvas, destination);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(square);
        }
    }

    /// <summary>Writes packed RGB bytes as NCHW float32 (3 x R x R).</summary>
    public void Process(ReadOnlySpan<byte> rgb, int width, int height, Span<float> destination)
    {
        var r = Resolution;
        if (width == r && height == r)
        {
            // Already the model size: no resampling, no copy.
            Normalize(rgb, destination);
            return;
        }

        using var image = Image.LoadPixelData<Rgb24>(rgb, width, height);
        Process(image, destination);
    }

    /// <summary>The R x R packed RGB image the model sees, before normalisation (for tests and debugging).</summary>
    public byte[] ToSquareRgb(Image<Rgb24> image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var canvas = new byte[Resolution * Resolution * 3];
        Fit(image, canvas);
        return canvas;
    }

    /// <summary>Planar normalisation of an R x R packed RGB image.</summary>
    internal void Normalize(ReadOnlySpan<byte> rgb, Span<float> destination)
    {
        var plane = Resolution * Resolution;
        if (rgb.Length != plane * 3 || destination.Length < plane * 3)
        {
            throw new ArgumentException($"Expected {plane * 3} RGB bytes and room for {plane * 3} floats.");
        }

        var red = destination[..plane];
        var green = destination.Slice(plane, plane);
        var blue = destination.Slice(2 * plane, plane);
        var pixels = MemoryMarshal.Cast<byte, Rgb24>(rgb);
        var lut = Lut;
        for (var i = 0; i < pixels.Length; i++)
        {
            var p = pixels[i];
            red[i] = lut[p.R];
            green[i] = lut[p.G];
            blue[i] = lut[p.B];
        }
    }

    private void Fit(Image<Rgb24> image, Span<byte> canvas)
    {
        var r = Resolution;
        int w, h;
        if (Mode == ImageMode.Resize)
        {
            (w, h) = (r, r);
        }
        else
        {
            // Longer side to R, the other rounded and at least one pixel.
            var longer = Math.Max(image.Width, image.Height);
            w = Math.Max(1, (int)Math.Round((double)image.Width * r / longer, MidpointRounding.AwayFromZero));
            h = Math.Max(1, (int)Math.Round((double)image.Height * r / longer, MidpointRounding.AwayFromZero));
        }

        canvas.Fill(255); // white padding
        var x0 = (r - w) / 2;
        var y0 = (r - h) / 2;
        if (image.Width == w && image.Height == h)
        {
            CopyInto(image, canvas, x0, y0);
            return;
        }

        using var resized = image.Clone(ctx => ctx.Resize(new ResizeOptions
        {
            Size = new Size(w, h),
            Mode = SixLabors.ImageSharp.Processing.ResizeMode.Stretch,
            Sampler = KnownResamplers.Bicubic,
        }));
        CopyInto(resized, canvas, x0, y0);
    }

    private void CopyInto(Image<Rgb24> image, Span<byte> canvas, int x0, int y0)
    {
        var r = Resolution;
        var target = MemoryMarshal.Cast<byte, Rgb24>(canvas);
        if (image.Width == r && image.Height == r)
        {
            image.CopyPixelDataTo(target);
            return;
        }

        // Narrower than the canvas: copy out once, then place row by row.
        var w = image.Width;
        var pooled = ArrayPool<Rgb24>.Shared.Rent(w * image.Height);
        try
        {
            var source = pooled.AsSpan(0, w * image.Height);
            image.CopyPixelDataTo(source);
            for (var y = 0; y < image.Height; y++)
            {
                source.Slice(y * w, w).CopyTo(target.Slice(((y0 + y) * r) + x0, w));
            }
        }
        finally
        {
            ArrayPool<Rgb24>.Shared.Return(pooled);
        }
    }

    private static float[] BuildLut()
    {
        var lut = new float[256];
        for (var i = 0; i < 256; i++)
        {
            lut[i] = ((i / 255f) - 0.5f) / 0.5f;
        }

        return lut;
    }
}
