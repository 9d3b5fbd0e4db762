using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace PaliGemma2.DocPipeline.Documents.Dicom;

/// <summary>Geometry helpers for model inputs.</summary>
public static class DicomImageOps
{
    /// <summary>
    /// Aspect-preserving resize (bicubic, like the SigLIP image processor) so the longer side is
    /// <paramref name="size"/>, centred on a <paramref name="size"/>² canvas of <paramref name="pad"/>
    /// (black for radiographs). Returns a new image; the source is untouched.
    /// </summary>
    public static Image<TPixel> ResizeToSquare<TPixel>(Image<TPixel> image, int size, Color pad)
        where TPixel : unmanaged, IPixel<TPixel>
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        var scale = (double)size / Math.Max(image.Width, image.Height);
        var width = Math.Clamp((int)Math.Round(image.Width * scale), 1, size);
        var height = Math.Clamp((int)Math.Round(image.Height * scale), 1, size);
        return image.Clone(context =>
        {
            if (width != image.Width || height != image.Height)
            {
                context.Resize(width, height, KnownResamplers.Bicubic);
            }

            if (width != size || height != size)
            {
                context.Pad(size, size, pad);
            }
        });
    }
}
