using System.Globalization;

namespace PaliGemma2.DocPipeline.Inference;

/// <summary>How an image is brought to the model's square input size (checkpoint.json <c>image_mode</c>).</summary>
public enum ImageMode
{
    /// <summary>Stretch to R x R: HF's PaliGemmaProcessor (SigLIP image processor) and big_vision's default pipelines.</summary>
    Resize,

    /// <summary>Keep the aspect ratio: longer side to R, centred on an R x R canvas of the checkpoint's pad colour (the PaliGemma 2 paper's tables).</summary>
    Pad,
}

/// <summary>Resampling filter, computed as Pillow's <c>Image.resize</c> does (checkpoint.json <c>resample</c>).</summary>
public enum Resample
{
    /// <summary>PIL BICUBIC (a = -0.5): what HF's image processor uses.</summary>
    Bicubic,

    /// <summary>PIL BILINEAR (triangle): what big_vision's resize uses.</summary>
    Bilinear,
}

/// <summary>Gemma 2's sliding-window attention as the checkpoint's decoder graph applies it (checkpoint.json <c>sliding_window</c>).</summary>
public enum SlidingWindowMode
{
    /// <summary>Keys older than the config's window are masked on the layers HF applies it to (HF transformers).</summary>
    Hf,

    /// <summary>Every layer attends globally (big_vision, which trained PaliGemma 2).</summary>
    None,
}

/// <summary>An 8-bit RGB colour, written <c>#rrggbb</c> in checkpoint.json.</summary>
/// <param name="R">Red.</param>
/// <param name="G">Green.</param>
/// <param name="B">Blue.</param>
public readonly record struct PadColor(byte R, byte G, byte B)
{
    /// <summary>#ffffff.</summary>
    public static PadColor White => new(255, 255, 255);

    /// <summary>Parses <c>#rrggbb</c>.</summary>
    public static bool TryParse(string? text, out PadColor color)
    {
        color = default;
        if (text is not { Length: 7 } || text[0] != '#'
            || !int.TryParse(text.AsSpan(1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var v))
        {
            return false;
        }

        color = new PadColor((byte)(v >> 16), (byte)(v >> 8), (byte)v);
        return true;
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"#{R:x2}{G:x2}{B:x2}");
}
