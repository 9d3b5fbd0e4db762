using System.Buffers;
using System.Runtime.InteropServices;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace PaliGemma2.DocPipeline.Inference;

/// <summary>
/// Turns RGB images into the vision encoder's input: fitted to R x R as the checkpoint declares (stretch, or
/// keep aspect and pad), resampled as Pillow's <c>Image.resize</c> does, values (x / 255 - 0.5) / 0.5 in
/// [-1, 1], planar NCHW.
/// </summary>
public sealed class ImagePreprocessor
{
    // One float per byte value: the normalisation is then a table lookup, and it is bit-identical to
    // computing (x / 255f - 0.5f) / 0.5f in float32, which is what the references do.
    private static readonly float[] Lut = BuildLut();

    /// <summary>Creates a preprocessor for an R x R model input.</summary>
    public ImagePreprocessor(int resolution, ImageMode mode, Resample resample, PadColor padColor)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(resolution);
        Resolution = resolution;
        Mode = mode;
        Resample = resample;
        PadColor = padColor;
    }

    /// <summary>Creates the preprocessor a checkpoint declares.</summary>
    public ImagePreprocessor(CheckpointInfo info)
        : this((info ?? throw new ArgumentNullException(nameof(info))).Resolution, info.ImageMode, info.Resample, info.PadColor)
    {
    }

    /// <summary>Side length R of the model input.</summary>
    public int Resolution { get; }

    /// <summary>Resize policy.</summary>
    public ImageMode Mode { get; }

    /// <summary>Resampling filter.</summary>
    public Resample Resample { get; }

    /// <summary>Canvas colour in <see cref="ImageMode.Pad"/>.</summary>
    public PadColor PadColor { get; }

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
        var pixels = ArrayPool<byte>.Shared.Rent(image.Width * image.Height * 3);
        try
        {
            var rgb = pixels.AsSpan(0, image.Width * image.Height * 3);
            image.CopyPixelDataTo(rgb);
            Process(rgb, image.Width, image.Height, destination);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(pixels);
        }
    }

    /// <summary>Writes packed RGB bytes as NCHW float32 (3 x R x R).</summary>
    public void Process(ReadOnlySpan<byte> rgb, int width, int height, Span<float> destination)
    {
        var r = Resolution;
        if (width == r && height == r)
        {
            // Already the model size: Pillow returns a copy, so no resampling.
            Normalize(rgb[..(r * r * 3)], destination);
            return;
        }

        var square = ArrayPool<byte>.Shared.Rent(r * r * 3);
        try
        {
            var canvas = square.AsSpan(0, r * r * 3);
            Fit(rgb, width, height, canvas);
            Normalize(canvas, destination);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(square);
        }
    }

    /// <summary>The R x R packed RGB image the model sees, before normalisation (for tests and debugging).</summary>
    public byte[] ToSquareRgb(ReadOnlySpan<byte> rgb, int width, int height)
    {
        var canvas = new byte[Resolution * Resolution * 3];
        Fit(rgb, width, height, canvas);
        return canvas;
    }

    /// <summary>As <see cref="ToSquareRgb(ReadOnlySpan{byte}, int, int)"/> for an ImageSharp image.</summary>
    public byte[] ToSquareRgb(Image<Rgb24> image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var rgb = new byte[image.Width * image.Height * 3];
        image.CopyPixelDataTo(rgb);
        return ToSquareRgb(rgb, image.Width, image.Height);
    }

    /// <summary>Size of the resampled image inside the R x R canvas for a <paramref name="width"/> x <paramref name="height"/> input.</summary>
    public (int Width, int Height) FittedSize(int width, int height)
    {
        var r = Resolution;
        if (Mode == ImageMode.Resize)
        {
            return (r, r);
        }

        // Longer side to R, the other rounded and at least one pixel (TablePostProcessor.ToPage maps boxes back with the same arithmetic).
        var longer = Math.Max(width, height);
        return (Math.Max(1, (int)Math.Round((double)width * r / longer, MidpointRounding.AwayFromZero)),
                Math.Max(1, (int)Math.Round((double)height * r / longer, MidpointRounding.AwayFromZero)));
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

    private void Fit(ReadOnlySpan<byte> rgb, int width, int height, Span<byte> canvas)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (rgb.Length < width * height * 3)
        {
            throw new ArgumentException($"Expected {width * height * 3} RGB bytes for {width} x {height}.", nameof(rgb));
        }

        var r = Resolution;
        var (w, h) = FittedSize(width, height);
        var x0 = (r - w) / 2;
        var y0 = (r - h) / 2;
        if (w != r || h != r)
        {
            var fill = MemoryMarshal.Cast<byte, Rgb24>(canvas);
            fill.Fill(new Rgb24(PadColor.R, PadColor.G, PadColor.B));
        }

        PillowResampler.Resize(rgb, width, height, 3, canvas[(((y0 * r) + x0) * 3)..], w, h, r * 3, Resample);
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
