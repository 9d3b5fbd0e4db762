using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Pipeline.Hosting;
using PaliGemma2.DocPipeline.Pipeline.State;
using PaliGemma2.DocPipeline.Storage;
using PaliGemma2.DocPipeline.Storage.Blobs;
using PaliGemma2.DocPipeline.Storage.Entities;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace PaliGemma2.DocPipeline.Inference.Serving;

/// <summary>
/// GPU stage, kept thin: claims the batch's jobs (with a lease it renews while decoding), runs the
/// <see cref="BatchRunner"/>, builds results and hands them to <see cref="PipelineState"/>, which stores each once
/// and fails only the job whose result the database refuses. Redelivered messages store nothing twice.
/// </summary>
public sealed class InferenceConsumer(
    DocPipelineDbContext db,
    PipelineState state,
    LeaseHeartbeat leases,
    IBlobStore blobs,
    ModelCatalog models,
    IOptions<InferenceOptions> options,
    IOptions<RecoveryOptions> recovery,
    TimeProvider time,
    PipelineMetrics metrics,
    ILogger<InferenceConsumer> logger) : IConsumer<Batch<InferenceRequested>>
{
    /// <inheritdoc />
    public async Task Consume(ConsumeContext<Batch<InferenceRequested>> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var ct = context.CancellationToken;
        var requests = context.Message.Select(m => m.Message).DistinctBy(m => m.JobId).ToList();
        var ids = requests.Select(r => r.JobId).ToList();

        // Already stored (a redelivery, or a crash before the event went out): announce again, compute nothing.
        var stored = await db.Results.AsNoTracking().Where(r => ids.Contains(r.JobId)).ToListAsync(ct).ConfigureAwait(false);
        foreach (var r in stored)
        {
            await PublishAsync(context, r, requests.First(q => q.JobId == r.JobId).DocumentId, ct).ConfigureAwait(false);
        }

        var worker = options.Value.WorkerName ?? Environment.MachineName;
        var pending = ids.Except(stored.Select(s => s.JobId)).ToList();
        var jobs = (await state.ClaimJobsAsync(pending, worker, task => models.Get(task).Name, ct).ConfigureAwait(false)).ToDictionary(j => j.Id);
        var claimed = requests.Where(r => jobs.ContainsKey(r.JobId)).ToList();
        if (claimed.Count == 0)
        {
            return;
        }

        // Queue lag: from the request being sent (preparation, recovery, replay) to this batch taking it.
        var start = time.GetUtcNow().UtcDateTime;
        var sentAt = context.Message.GroupBy(m => m.Message.JobId).ToDictionary(g => g.Key, g => g.First().SentTime);
        foreach (var group in claimed.GroupBy(r => r.Task))
        {
            metrics.BatchStarted(group.Key, group.Count(),
                group.Select(r => sentAt[r.JobId] is { } sent ? start - sent : TimeSpan.Zero));
        }

        var heartbeat = leases.Start(recovery.Value.InferenceLease / 3, (s, c) => s.RenewJobsAsync(jobs.Keys, worker, c));
        await using (heartbeat.ConfigureAwait(false))
        {
            var failures = new List<(Guid JobId, string Reason)>();
            foreach (var group in claimed.GroupBy(r => r.Task))
            {
                var checkpoint = models.Get(group.Key);
                var runnable = new List<(InferenceRequested Request, BatchItem Item)>();
                try
                {
                    foreach (var request in group)
                    {
                        if (Refuse(request, checkpoint) is { } refusal)
                        {
                            failures.Add((request.JobId, refusal));
                            metrics.Failure("inference", "resolution_mismatch");
                        }
                        else if (await LoadImageAsync(request.ImageBlobKey, ct).ConfigureAwait(false) is { } image)
                        {
                            runnable.Add((request, new BatchItem(image)));
                        }
                        else
                        {
                            failures.Add((request.JobId, "Page image is missing or unreadable in the blob store."));
                            metrics.Failure("inference", "page_image_missing");
                        }
                    }

                    await BatchRunner.RunAsync(checkpoint, runnable.Select(r => r.Item).ToList(), logger, ct).ConfigureAwait(false);
                    var errors = runnable.Where(r => r.Item.Error is not null).Select(r => (r.Request.JobId, r.Item.Error!)).ToList();
                    failures.AddRange(errors);
                    metrics.Failure("inference", "model_error", errors.Count);
                    RecordGenerations(group.Key, runnable.Select(r => r.Item.Result));
                    await StoreAsync(context, checkpoint, runnable.Where(r => r.Item.Result is not null).ToList(), jobs, ct).ConfigureAwait(false);
                }
                finally
                {
                    foreach (var (_, item) in runnable)
                    {
                        item.Image.Dispose();
                    }
                }
            }

            foreach (var (jobId, reason) in failures)
            {
                logger.LogWarning("Job {JobId} (page {PageIndex}) failed: {Reason}", jobId, claimed.First(r => r.JobId == jobId).PageIndex, reason);
            }

            await state.FailJobsAsync(failures, ct).ConfigureAwait(false);
            foreach (var group in claimed.GroupBy(r => r.Task))
            {
                var failed = group.Count(r => failures.Any(f => f.JobId == r.JobId));
                metrics.Pages(group.Key, "failed", failed);
                metrics.Pages(group.Key, "stored", group.Count() - failed);
            }

            await state.CompleteDocumentsAsync(claimed.Select(r => r.DocumentId).Distinct().ToList(), ct).ConfigureAwait(false);
        }
    }

    /// <summary>One set of stage timings per model run (a batch split after a failure ran more than once).</summary>
    private void RecordGenerations(string task, IEnumerable<GenerationResult?> results)
    {
        foreach (var run in results.OfType<GenerationResult>().GroupBy(r => r.Timings))
        {
            var t = run.Key;
            metrics.Generation(task, t.Encode, t.Prefill, t.DecodeSteps.Aggregate(TimeSpan.Zero, (a, b) => a + b), run.Sum(r => (long)r.TokenIds.Count));
        }
    }

    /// <summary>A page prepared for another input resolution would be read wrongly (boxes, scale): refuse it with the reason.</summary>
    private static string? Refuse(InferenceRequested request, LoadedCheckpoint checkpoint)
    {
        var expected = checkpoint.Model.Info.Resolution;
        return request.Resolution != 0 && request.Resolution != expected
            ? $"Page was prepared at {request.Resolution} px but checkpoint {checkpoint.Name}@{checkpoint.Version} reads {expected} px; prepare the document again for this checkpoint."
            : null;
    }

    private async Task StoreAsync(ConsumeContext context, LoadedCheckpoint checkpoint, List<(InferenceRequested Request, BatchItem Item)> done,
        Dictionary<Guid, Job> jobs, CancellationToken ct)
    {
        if (done.Count == 0)
        {
            return;
        }

        var pageIds = done.Select(d => d.Request.PageId).ToList();
        var textLayers = await db.Pages.AsNoTracking().Where(p => pageIds.Contains(p.Id))
            .Select(p => new { p.Id, p.TextLayer }).ToDictionaryAsync(p => p.Id, p => p.TextLayer, ct).ConfigureAwait(false);
        var now = time.GetUtcNow();
        var results = done
            .Select(d => (ResultBuilder.Build(checkpoint, d.Request, d.Item.Result!, textLayers.GetValueOrDefault(d.Request.PageId), now, logger), jobs[d.Request.JobId]))
            .ToList();
        var stored = await state.StoreResultsAsync(results, ct).ConfigureAwait(false);

        // On PostgreSQL a trigger re-checks SMILES with RDKit and may mark the row invalid: announce what was stored.
        if (db.Database.IsNpgsql() && stored.Any(r => r.Task == TaskNames.Molecule))
        {
            var molecules = stored.Where(r => r.Task == TaskNames.Molecule).Select(r => r.Id).ToList();
            var valid = await db.Results.AsNoTracking().Where(r => molecules.Contains(r.Id)).ToDictionaryAsync(r => r.Id, r => r.Valid, ct).ConfigureAwait(false);
            foreach (var r in stored.Where(r => valid.ContainsKey(r.Id)))
            {
                r.Valid = valid[r.Id];
            }
        }

        foreach (var r in stored)
        {
            await PublishAsync(context, r, done.First(d => d.Request.JobId == r.JobId).Request.DocumentId, ct).ConfigureAwait(false);
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
}
