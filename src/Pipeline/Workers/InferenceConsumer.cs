using System.Text.Json;
using System.Text.Json.Nodes;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Inference;
using PaliGemma2.DocPipeline.Pipeline.Intake;
using PaliGemma2.DocPipeline.Storage;
using PaliGemma2.DocPipeline.Storage.Blobs;
using PaliGemma2.DocPipeline.Storage.Entities;
using PaliGemma2.DocPipeline.Tasks;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace PaliGemma2.DocPipeline.Pipeline.Workers;

/// <summary>
/// GPU stage: decodes a batch of pages with the task's checkpoint and stores one result per job.
/// Redelivered messages store nothing twice (results are unique per job); a batch that fails is split
/// in halves until the failing page is alone (this also answers out-of-memory with smaller batches),
/// and a page that fails alone fails only its own job.
/// </summary>
public sealed class InferenceConsumer(
    DocPipelineDbContext db,
    IBlobStore blobs,
    ModelCatalog models,
    IOptions<InferenceOptions> options,
    TimeProvider time,
    ILogger<InferenceConsumer> logger) : IConsumer<Batch<InferenceRequested>>
{
    private sealed class Item(InferenceRequested request, Job job)
    {
        public InferenceRequested Request { get; } = request;
        public Job Job { get; } = job;
        public Image<Rgb24>? Image { get; set; }
        public GenerationResult? Result { get; set; }
        public string? Error { get; set; }
    }

    /// <inheritdoc />
    public async Task Consume(ConsumeContext<Batch<InferenceRequested>> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var ct = context.CancellationToken;
        var requests = context.Message.Select(m => m.Message).DistinctBy(m => m.JobId).ToList();
        var ids = requests.Select(r => r.JobId).ToList();
        var jobs = await db.Jobs.Where(j => ids.Contains(j.Id)).ToDictionaryAsync(j => j.Id, ct).ConfigureAwait(false);
        var stored = await db.Results.AsNoTracking().Where(r => ids.Contains(r.JobId)).ToListAsync(ct).ConfigureAwait(false);

        // Already stored (a redelivery, or a crash before the event went out): announce again, compute nothing.
        foreach (var r in stored)
        {
            await PublishAsync(context, r, jobs[r.JobId].DocumentId, ct).ConfigureAwait(false);
        }

        var items = requests
            .Where(r => jobs.TryGetValue(r.JobId, out var j) && j.Status is not (JobStatus.Done or JobStatus.Failed) && stored.All(s => s.JobId != r.JobId))
            .Select(r => new Item(r, jobs[r.JobId]))
            .ToList();
        if (items.Count == 0)
        {
            return;
        }

        var worker = options.Value.WorkerName ?? Environment.MachineName;
        foreach (var item in items)
        {
            item.Job.Status = JobStatus.Running;
            item.Job.Attempts++;
            item.Job.Worker = worker;
            item.Job.StartedAt = time.GetUtcNow();
        }

        await db.SaveChangesAsync(ct).ConfigureAwait(false);

        try
        {
            foreach (var item in items)
            {
                item.Image = await LoadImageAsync(item.Request.ImageBlobKey, ct).ConfigureAwait(false);
                item.Error = item.Image is null ? "Page image is missing or unreadable in the blob store." : null;
            }

            foreach (var group in items.Where(i => i.Image is not null).GroupBy(i => i.Request.Task))
            {
                var checkpoint = models.Get(group.Key);
                await RunAsync(checkpoint, group.ToList(), ct).ConfigureAwait(false);
                await StoreAsync(context, checkpoint, group.ToList(), ct).ConfigureAwait(false);
            }

            var failed = items.Where(i => i.Error is not null).ToList();
            foreach (var item in failed)
            {
                item.Job.Status = JobStatus.Failed;
                item.Job.Error = item.Error;
                item.Job.FinishedAt = time.GetUtcNow();
            }

            await db.SaveChangesAsync(ct).ConfigureAwait(false);
            await CompleteDocumentsAsync(items.Select(i => i.Job.DocumentId).Distinct().ToList(), ct).ConfigureAwait(false);
        }
        finally
        {
            foreach (var item in items)
            {
                item.Image?.Dispose();
            }
        }
    }

    private async Task RunAsync(LoadedCheckpoint checkpoint, List<Item> items, CancellationToken ct)
    {
        try
        {
            var results = await checkpoint.Model.GenerateAsync(
                items.Select(i => new GenerationRequest(i.Image!, checkpoint.PromptPrefix, checkpoint.MaxNewTokens)).ToList(), ct).ConfigureAwait(false);
            for (var i = 0; i < items.Count; i++)
            {
                items[i].Result = results[i];
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException && items.Count > 1)
        {
            logger.LogWarning("Batch of {Count} failed ({Error}); retrying as two halves", items.Count, ex.GetType().Name);
            var half = items.Count / 2;
            await RunAsync(checkpoint, items[..half], ct).ConfigureAwait(false);
            await RunAsync(checkpoint, items[half..], ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && !IsOutOfMemory(ex))
        {
            // Out of memory on a single page is the machine's problem, not the page's: let the message be retried.
            items[0].Error = $"Inference failed: {ex.Message}";
        }
    }

    private async Task StoreAsync(ConsumeContext context, LoadedCheckpoint checkpoint, List<Item> items, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var results = new List<(Result Result, Item Item)>();
        var pageIds = items.Select(i => i.Job.PageId).Distinct().ToList();
        var pages = await db.Pages.AsNoTracking().Where(p => pageIds.Contains(p.Id))
            .Select(p => new PageFacts(p.Id, p.Width, p.Height, p.TextLayer))
            .ToDictionaryAsync(p => p.Id, ct).ConfigureAwait(false);
        foreach (var item in items.Where(i => i.Result is not null))
        {
            var g = item.Result!;
            var processed = PostProcess(checkpoint, g, pages.GetValueOrDefault(item.Job.PageId));
            var result = new Result
            {
                Id = Guid.CreateVersion7(),
                JobId = item.Job.Id,
                Task = item.Request.Task,
                Checkpoint = checkpoint.Name,
                CheckpointVersion = checkpoint.Version,
                PromptPrefix = checkpoint.PromptPrefix,
                RawText = g.Text,
                Payload = processed.PayloadJson,
                Valid = processed.Valid,
                ValidationErrors = processed.ErrorsJson,
                PromptTokens = g.PromptTokenCount,
                GeneratedTokens = g.TokenIds.Count,
                PrefillMs = (g.Timings.Preprocess + g.Timings.Encode + g.Timings.Prefill).TotalMilliseconds,
                DecodeMs = g.Timings.DecodeSteps.Sum(s => s.TotalMilliseconds),
                CreatedAt = now,
            };
            db.Results.Add(result);
            item.Job.Status = JobStatus.Done;
            item.Job.CheckpointVersion = $"{checkpoint.Name}@{checkpoint.Version}";
            item.Job.FinishedAt = now;
            item.Job.Error = null;
            results.Add((result, item));
        }

        try
        {
            await db.SaveChangesAsync(ct).ConfigureAwait(false);
        }
        catch (DbUpdateException ex) when (UniqueViolation.Is(ex))
        {
            // Another delivery of the same job stored first; throwing makes MassTransit redeliver,
            // and the redelivery finds the stored results and only re-announces them.
            throw new InvalidOperationException("A result for one of these jobs was stored concurrently; retrying.", ex);
        }

        // On PostgreSQL a trigger re-checks SMILES with RDKit and may mark the row invalid: announce what was stored.
        foreach (var (result, _) in results.Where(r => r.Result.Task == TaskNames.Molecule && db.Database.IsNpgsql()))
        {
            await db.Entry(result).ReloadAsync(ct).ConfigureAwait(false);
        }

        foreach (var (result, item) in results)
        {
            await PublishAsync(context, result, item.Job.DocumentId, ct).ConfigureAwait(false);
        }
    }

    private sealed record PageFacts(Guid Id, int Width, int Height, string? TextLayer);

    /// <summary>
    /// Runs the checkpoint's post-processor (checkpoint.json post_processor) over the decoded text. Whatever
    /// the model wrote is stored: noise becomes an invalid payload with its reasons, never a dropped result,
    /// and a post-processor bug fails nothing but that result's validity.
    /// </summary>
    private PostProcessed PostProcess(LoadedCheckpoint checkpoint, GenerationResult g, PageFacts? page)
    {
        var info = checkpoint.Model.Info;
        var context = new PostProcessingContext
        {
            Resolution = info.Resolution,
            FitMode = info.ImageMode == ImageMode.Pad ? FitMode.PadToSquare : FitMode.Resize,
            ImageWidth = page?.Width ?? 0,
            ImageHeight = page?.Height ?? 0,
            BoxOrder = info.BoxOrder == "yxyx" ? BoxOrder.YXYX : BoxOrder.XYXY,
            StopReason = g.StopReason.ToString(),
            TextLayer = PageText.Parse(page?.TextLayer),
        };
        try
        {
            return TaskPostProcessor.Process(info.PostProcessor, g.Text, context);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogError(ex, "Post-processor {PostProcessor} failed", info.PostProcessor);
            var payload = new JsonObject { ["text"] = g.Text, ["stopReason"] = context.StopReason };
            return new PostProcessed(payload, false, [$"Post-processor '{info.PostProcessor}' failed: {ex.Message}"]);
        }
    }

    private static Task PublishAsync(ConsumeContext context, Result result, Guid documentId, CancellationToken ct) =>
        context.Publish(new ResultStored
        {
            ResultId = result.Id,
            JobId = result.JobId,
            DocumentId = documentId,
            Task = result.Task,
            Checkpoint = result.Checkpoint,
            CheckpointVersion = result.CheckpointVersion,
            Valid = result.Valid,
        }, ct);

    private async Task CompleteDocumentsAsync(List<Guid> documentIds, CancellationToken ct)
    {
        foreach (var id in documentIds)
        {
            var statuses = await db.Jobs.Where(j => j.DocumentId == id).Select(j => j.Status).ToListAsync(ct).ConfigureAwait(false);
            if (statuses.Any(s => s is JobStatus.Queued or JobStatus.Running))
            {
                continue;
            }

            var status = statuses.All(s => s == JobStatus.Done) ? DocumentStatus.Done
                : statuses.Any(s => s == JobStatus.Done) ? DocumentStatus.Partial : DocumentStatus.Failed;
            var error = status == DocumentStatus.Done ? null : "Inference failed on some pages; see their jobs.";
            // Conditional: preparation may still be finishing its own status write for this document.
            await db.Documents.Where(d => d.Id == id && (d.Status == DocumentStatus.Queued || d.Status == DocumentStatus.Preparing))
                .ExecuteUpdateAsync(s => s.SetProperty(d => d.Status, status).SetProperty(d => d.Error, error), ct).ConfigureAwait(false);
        }
    }

    private async Task<Image<Rgb24>?> LoadImageAsync(string key, CancellationToken ct)
    {
        try
        {
            var stream = blobs.OpenRead(key);
            await using (stream.ConfigureAwait(false))
            {
                return await Image.LoadAsync<Rgb24>(stream, ct).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or UnknownImageFormatException or InvalidImageContentException or ArgumentException)
        {
            return null;
        }
    }

    private static bool IsOutOfMemory(Exception ex) =>
        ex is OutOfMemoryException
        || ex.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase)
        || ex.Message.Contains("Failed to allocate memory", StringComparison.OrdinalIgnoreCase);
}
