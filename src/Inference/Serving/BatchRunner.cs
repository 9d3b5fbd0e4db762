using Microsoft.Extensions.Logging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace PaliGemma2.DocPipeline.Inference.Serving;

/// <summary>One page of a batch: its image in, its generation or its error out.</summary>
internal sealed class BatchItem(Image<Rgb24> image)
{
    public Image<Rgb24> Image { get; } = image;

    public GenerationResult? Result { get; set; }

    public string? Error { get; set; }
}

/// <summary>
/// Decodes a batch with one checkpoint. A batch that fails is split in halves until the failing page is alone
/// (this also answers out-of-memory with smaller batches); a page that fails alone gets its error, except on
/// out of memory, which is the machine's problem rather than the page's and is thrown so the message is retried.
/// </summary>
internal static class BatchRunner
{
    public static async Task RunAsync(LoadedCheckpoint checkpoint, IReadOnlyList<BatchItem> items, ILogger logger, CancellationToken ct)
    {
        if (items.Count == 0)
        {
            return;
        }

        try
        {
            var results = await checkpoint.Model.GenerateAsync(
                items.Select(i => new GenerationRequest(i.Image, checkpoint.PromptPrefix, checkpoint.MaxNewTokens)).ToList(), ct).ConfigureAwait(false);
            for (var i = 0; i < items.Count; i++)
            {
                items[i].Result = results[i];
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException && items.Count > 1)
        {
            logger.LogWarning("Batch of {Count} failed ({Error}); retrying as two halves", items.Count, ex.GetType().Name);
            var half = items.Count / 2;
            await RunAsync(checkpoint, items.Take(half).ToList(), logger, ct).ConfigureAwait(false);
            await RunAsync(checkpoint, items.Skip(half).ToList(), logger, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && !IsOutOfMemory(ex))
        {
            items[0].Error = $"Inference failed: {ex.Message}";
        }
    }

    private static bool IsOutOfMemory(Exception ex) =>
        ex is OutOfMemoryException
        || ex.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase)
        || ex.Message.Contains("Failed to allocate memory", StringComparison.OrdinalIgnoreCase);
}
