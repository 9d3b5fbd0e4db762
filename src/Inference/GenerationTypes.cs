using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace PaliGemma2.DocPipeline.Inference;

/// <summary>One image plus the prompt prefix to condition on (for example <c>"caption en"</c>).</summary>
public sealed class GenerationRequest
{
    /// <summary>Creates a request over an ImageSharp image. The image is only read, never disposed.</summary>
    public GenerationRequest(Image<Rgb24> image, string promptPrefix, int? maxNewTokens = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(promptPrefix);
        Image = image;
        PromptPrefix = promptPrefix;
        MaxNewTokens = maxNewTokens;
    }

    /// <summary>Creates a request over packed 8-bit RGB bytes (row-major, 3 bytes per pixel).</summary>
    public GenerationRequest(ReadOnlyMemory<byte> rgb, int width, int height, string promptPrefix, int? maxNewTokens = null)
    {
        ArgumentNullException.ThrowIfNull(promptPrefix);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (rgb.Length != checked(width * height * 3))
        {
            throw new ArgumentException($"Expected {width}x{height}x3 = {width * height * 3} bytes, got {rgb.Length}.", nameof(rgb));
        }

        Rgb = rgb;
        Width = width;
        Height = height;
        PromptPrefix = promptPrefix;
        MaxNewTokens = maxNewTokens;
    }

    /// <summary>The image, when the request was made from an ImageSharp image.</summary>
    public Image<Rgb24>? Image { get; }

    /// <summary>Packed RGB bytes, when the request was made from raw bytes.</summary>
    public ReadOnlyMemory<byte> Rgb { get; }

    /// <summary>Width of <see cref="Rgb"/> in pixels (0 when <see cref="Image"/> is used).</summary>
    public int Width { get; }

    /// <summary>Height of <see cref="Rgb"/> in pixels (0 when <see cref="Image"/> is used).</summary>
    public int Height { get; }

    /// <summary>Text placed after <c>&lt;bos&gt;</c> and before the <c>\n</c> that ends the prefix.</summary>
    public string PromptPrefix { get; }

    /// <summary>Per-request cap on generated tokens; null uses the checkpoint's <c>max_new_tokens</c>.</summary>
    public int? MaxNewTokens { get; }
}

/// <summary>Why generation stopped for one sequence.</summary>
public enum StopReason
{
    /// <summary>The model produced <c>&lt;eos&gt;</c>.</summary>
    EndOfSequence,

    /// <summary>The max-new-tokens limit was reached.</summary>
    MaxNewTokens,
}

/// <summary>Wall-clock timings of one generate call (shared by every sequence of a batch).</summary>
/// <param name="Preprocess">Image decode/resize/normalise.</param>
/// <param name="Encode">Vision encoder and token embedding of the prompt.</param>
/// <param name="Prefill">Decoder pass over the whole prompt.</param>
/// <param name="DecodeSteps">Each following single-token decoder step (embedding included).</param>
/// <param name="OrtRunTotal">Sum of the time spent inside ONNX Runtime <c>Run</c> calls.</param>
/// <param name="Total">Wall time of the whole call.</param>
public sealed record GenerationTimings(
    TimeSpan Preprocess,
    TimeSpan Encode,
    TimeSpan Prefill,
    IReadOnlyList<TimeSpan> DecodeSteps,
    TimeSpan OrtRunTotal,
    TimeSpan Total);

/// <summary>The outcome for one request.</summary>
/// <param name="Text">Decoded suffix, without <c>&lt;eos&gt;</c>.</param>
/// <param name="TokenIds">Generated ids, including the final <c>&lt;eos&gt;</c> when one was produced.</param>
/// <param name="PromptTokenCount">Prompt length in tokens (image tokens + bos + prefix + newline).</param>
/// <param name="StopReason">Why decoding stopped.</param>
/// <param name="Timings">Timings of the batch this request ran in.</param>
public sealed record GenerationResult(
    string Text,
    IReadOnlyList<int> TokenIds,
    int PromptTokenCount,
    StopReason StopReason,
    GenerationTimings Timings);
