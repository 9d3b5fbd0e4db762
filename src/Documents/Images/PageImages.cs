using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace PaliGemma2.DocPipeline.Documents.Images;

/// <summary>Limits on uploaded raster images.</summary>
public sealed class ImageLimits
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Preparation:Images";

    /// <summary>Largest pixel count decoded (checked from the header before decoding).</summary>
    public long MaxPixels { get; set; } = 100_000_000;
}

/// <summary>Loads raster pages and writes the prepared page image (RGB PNG, long side at most the target).</summary>
public static class PageImages
{
    private static readonly PngEncoder Encoder = new()
    {
        ColorType = PngColorType.Rgb,
        BitDepth = PngBitDepth.Bit8,
        // Page images are written once and read once by a worker: speed beats a few percent of size.
        CompressionLevel = PngCompressionLevel.BestSpeed,
        FilterMethod = PngFilterMethod.Up,
    };

    /// <summary>
    /// Decodes an image file (PNG, JPEG, TIFF, PNM), downscales it so its long side is at most
    /// <paramref name="longSide"/> and encodes it as PNG into <paramref name="output"/>.
    /// </summary>
    /// <returns>Size written, and whether every pixel has the same colour (an empty page).</returns>
    /// <exception cref="DocumentRejectedException">Unreadable or over the pixel limit.</exception>
    public static PreparedImage Prepare(Stream input, int longSide, ImageLimits limits, Stream output)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(limits);
        Image<Rgb24> image;
        try
        {
            var info = Image.Identify(input) ?? throw new DocumentRejectedException(Reasons.ImageUnreadable, "Not a recognised image format.");
            if ((long)info.Width * info.Height > limits.MaxPixels)
            {
                throw new DocumentRejectedException(Reasons.TooLarge, $"Image is {info.Width}×{info.Height} pixels; the limit is {limits.MaxPixels} pixels.");
            }

            input.Position = 0;
            image = Image.Load<Rgb24>(input);
        }
        catch (DocumentRejectedException)
        {
            throw;
        }
        catch (Exception ex) when (ex is UnknownImageFormatException or InvalidImageContentException or ImageFormatException or NotSupportedException or EndOfStreamException)
        {
            throw new DocumentRejectedException(ex is EndOfStreamException ? Reasons.Truncated : Reasons.ImageUnreadable, "The image cannot be decoded (corrupt or truncated).", ex);
        }

        using (image)
        {
            var scale = (double)longSide / Math.Max(image.Width, image.Height);
            if (scale < 1)
            {
                image.Mutate(x => x.Resize(Math.Max(1, (int)Math.Round(image.Width * scale)), Math.Max(1, (int)Math.Round(image.Height * scale)), KnownResamplers.Bicubic));
            }

            return Encode(image, output);
        }
    }

    /// <summary>Writes a page image as RGB PNG; reports whether it is one colour.</summary>
    public static PreparedImage Encode(Image<Rgb24> image, Stream output)
    {
        ArgumentNullException.ThrowIfNull(image);
        var blank = IsUniform(image);
        image.Save(output, Encoder);
        return new PreparedImage(image.Width, image.Height, blank);
    }

    private static bool IsUniform(Image<Rgb24> image)
    {
        var first = image[0, 0];
        var uniform = true;
        image.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < rows.Height && uniform; y++)
            {
                uniform = rows.GetRowSpan(y).IndexOfAnyExcept(first) < 0;
            }
        });
        return uniform;
    }
}

/// <summary>A prepared page image's size and whether it is empty (one colour).</summary>
public sealed record PreparedImage(int Width, int Height, bool IsBlank);
