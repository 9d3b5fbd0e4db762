using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Storage;
using PaliGemma2.DocPipeline.Storage.Entities;
using PaliGemma2.DocPipeline.Tasks;

namespace PaliGemma2.DocPipeline.Inference.Serving;

/// <summary>
/// Turns a generation into a <c>results</c> row: the text made storable first (NUL and broken surrogates become
/// U+FFFD, so the loss stays visible in <c>raw_text</c>), then the checkpoint's post-processor (checkpoint.json
/// <c>post_processor</c>). Whatever the model wrote is stored: noise becomes an invalid payload with its reasons,
/// never a dropped result, and a post-processor bug fails nothing but that result's validity.
/// </summary>
internal static class ResultBuilder
{
    public static Result Build(LoadedCheckpoint checkpoint, InferenceRequested request, GenerationResult g, string? textLayer, DateTimeOffset now, ILogger logger)
    {
        var text = StorableText.Sanitize(g.Text);
        var processed = PostProcess(checkpoint, text, g.StopReason.ToString(), request, textLayer, logger);

        return new Result
        {
            Id = Guid.CreateVersion7(),
            JobId = request.JobId,
            Task = request.Task,
            Checkpoint = checkpoint.Name,
            CheckpointVersion = checkpoint.Version,
            PromptPrefix = checkpoint.PromptPrefix,
            RawText = text,
            Payload = processed.PayloadJson,
            Valid = processed.Valid,
            ValidationErrors = processed.ErrorsJson,
            PromptTokens = g.PromptTokenCount,
            GeneratedTokens = g.TokenIds.Count,
            PrefillMs = (g.Timings.Preprocess + g.Timings.Encode + g.Timings.Prefill).TotalMilliseconds,
            DecodeMs = g.Timings.DecodeSteps.Sum(s => s.TotalMilliseconds),
            CreatedAt = now,
        };
    }

    private static PostProcessed PostProcess(LoadedCheckpoint checkpoint, string text, string stopReason, InferenceRequested request, string? textLayer, ILogger logger)
    {
        var info = checkpoint.Model.Info;
        var context = new PostProcessingContext
        {
            Resolution = info.Resolution,
            FitMode = info.ImageMode == ImageMode.Pad ? FitMode.PadToSquare : FitMode.Resize,
            ImageWidth = request.ImageWidth,
            ImageHeight = request.ImageHeight,
            BoxOrder = info.BoxOrder == "yxyx" ? BoxOrder.YXYX : BoxOrder.XYXY,
            ReportSections = info.ReportSections,
            StopReason = stopReason,
            TextLayer = PageText.Parse(textLayer),
        };
        try
        {
            return TaskPostProcessor.Process(info.PostProcessor, text, context);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogError(ex, "Post-processor {PostProcessor} failed", info.PostProcessor);
            var payload = new JsonObject { ["text"] = text, ["stopReason"] = context.StopReason };
            return new PostProcessed(payload, false, [$"Post-processor '{info.PostProcessor}' failed: {ex.Message}"]);
        }
    }
}
