using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace PaliGemma2.DocPipeline.Documents.Dicom;

/// <summary>Geometry helpers for model inputs.</summary>
public static class DicomImageOps
{
    /// <summary>
    /// Aspect-preserving resize so the longer side is <paramref name="size"/>, like a PDF page render. No
    /// padding: fitting to the model's square (stretch or pad, and with what colour) is the checkpoint's
    /// choice and happens in the inference preprocessor. Returns a new image; the source is untouched.
    /// </summary>
    public static Image<TPixel> ResizeLongSide<TPixel>(Image<TPixel> image, int size)
        where TPixel : unmanaged, IPixel<TPixel>
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        var scale = (double)size / Math.Max(image.Width, image.Height);
        var width = Math.Clamp((int)Math.Round(image.Width * scale), 1, size);
        var height = Math.Clamp((int)Math.Round(image.Height * scale), 1, size);
        return width == image.Width && height == image.Height
            ? image.Clone()
            : image.Clone(context => context.Resize(width, height, KnownResamplers.Bicubic));
    }
}
