using System.Text.Json.Nodes;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Documents;
using PaliGemma2.DocPipeline.Pipeline.Intake;
using PaliGemma2.DocPipeline.Pipeline.State;
using PaliGemma2.DocPipeline.Storage;
using PaliGemma2.DocPipeline.Storage.Blobs;
using PaliGemma2.DocPipeline.Storage.Entities;

namespace PaliGemma2.DocPipeline.Pipeline.Preparation;

/// <summary>
/// CPU stage: renders a received document into pages, records a job per page and sends one
/// <see cref="InferenceRequested"/> per job to <c>infer-&lt;task&gt;</c>. Safe to redeliver: pages and
/// jobs are unique per (document, index) and (page, task, checkpoint), and a document already past
/// preparation is left alone.
/// </summary>
public sealed class PrepareDocumentConsumer(
    DocPipelineDbContext db,
    PipelineState state,
    LeaseHeartbeat leases,
    IOptions<RecoveryOptions> recovery,
    PagePreparer preparer,
    IOptions<PreparationOptions> options,
    IOptions<IntakeOptions> intake,
    IBlobStore blobs,
    CheckpointRegistry registry,
    TimeProvider time,
    ILogger<PrepareDocumentConsumer> logger) : IConsumer<DocumentReceived>
{
    /// <inheritdoc />
    public async Task Consume(ConsumeContext<DocumentReceived> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var ct = context.CancellationToken;
        // A broker redelivery (the worker that held the message died) or this consumer's own retry after a transient
        // failure: the preparing document is ours to take over now, not after its lease.
        var takeOver = context.ReceiveContext.Redelivered || context.GetRetryAttempt() > 0;
        var document = await state.StartPreparingAsync(context.Message.DocumentId, takeOver, ct).ConfigureAwait(false);
        if (document is null)
        {
            return;
        }

        if (document.SizeBytes > intake.Value.MaxFileBytes)
        {
            await state.FailDocumentAsync(document.Id, Reasons.TooLarge, $"File is {document.SizeBytes} bytes; the limit is {intake.Value.MaxFileBytes}.", context, ct).ConfigureAwait(false);

            // A refused file is not kept (anyone allowed to send files could fill the disk); every other document
            // of the same bytes is refused here by its recorded size, before it needs them.
            File.Delete(blobs.GetPath(document.Sha256));
            logger.LogInformation("Document {DocumentId} refused: {Size} bytes over Intake:MaxFileBytes; its file was deleted", document.Id, document.SizeBytes);
            return;
        }

        // Pages are rendered at the resolution of the checkpoint that will read them.
        var routedTask = document.Task == TaskNames.Auto ? TaskNames.Report : document.Task;
        var active = await registry.ActiveAsync(routedTask, ct).ConfigureAwait(false);
        var resolution = active?.Resolution ?? options.Value.DefaultResolution;
        PreparedDocument prepared;
        var lease = recovery.Value.PreparationLease / 3;
        var heartbeat = leases.Start(lease, (s, c) => s.RenewPreparationAsync(document.Id, c));
        await using (heartbeat.ConfigureAwait(false))
        {
            try
            {
                prepared = await preparer.PrepareAsync(document.Sha256, document.MediaType, document.Task, resolution, ct, document.Id).ConfigureAwait(false);
            }
            catch (DocumentRejectedException ex)
            {
                await state.FailDocumentAsync(document.Id, ex.Code, ex.Message, context, ct).ConfigureAwait(false);

                // The library's own words (inner exception) for whoever debugs the file; the stored reason stays plain.
                logger.LogInformation("Document {DocumentId} failed preparation ({ReasonCode}): {Reason} {Detail}", document.Id, ex.Code, ex.Message, ex.InnerException?.Message);
                return;
            }
        }

        var jobs = await RecordPagesAndJobsAsync(document, prepared, resolution, ct).ConfigureAwait(false);
        var endpoint = await context.GetSendEndpoint(new Uri($"queue:{TaskNames.QueueOf(prepared.Task)}")).ConfigureAwait(false);
        foreach (var (job, page) in jobs)
        {
            await endpoint.Send(InferenceRequests.For(job, page), ct).ConfigureAwait(false);
        }

        await state.MarkQueuedAsync(document.Id, prepared.Task, MergeMetadata(document.Metadata, prepared.Metadata), ct).ConfigureAwait(false);
        await context.Publish(new DocumentPrepared { DocumentId = document.Id, Task = prepared.Task, PageCount = prepared.Pages.Count }, ct).ConfigureAwait(false);
        logger.LogInformation("Document {DocumentId} prepared: {Pages} page(s) queued on {Queue}", document.Id, prepared.Pages.Count, TaskNames.QueueOf(prepared.Task));
    }

    /// <summary>What intake recorded (where the file came from) plus what preparation read from the file; the file wins a clash.</summary>
    internal static string MergeMetadata(string? atIntake, string prepared)
    {
        if (string.IsNullOrEmpty(atIntake) || JsonNode.Parse(atIntake) is not JsonObject origin)
        {
            return prepared;
        }

        if (JsonNode.Parse(prepared) is JsonObject read)
        {
            foreach (var (key, value) in read.ToList())
            {
                read.Remove(key);
                origin[key] = value;
            }
        }

        return origin.ToJsonString();
    }

    private async Task<List<(Job Job, Page Page)>> RecordPagesAndJobsAsync(Document document, PreparedDocument prepared, int resolution, CancellationToken ct)
    {
        // A redelivery after a crash finds some rows already there; reuse them instead of duplicating.
        var existing = await db.Pages.Include(p => p.Jobs).Where(p => p.DocumentId == document.Id).ToDictionaryAsync(p => p.Index, ct).ConfigureAwait(false);
        var now = time.GetUtcNow();
        var result = new List<(Job, Page)>(prepared.Pages.Count);
        foreach (var p in prepared.Pages)
        {
            if (!existing.TryGetValue(p.Index, out var page))
            {
                page = new Page { Id = Guid.CreateVersion7(), DocumentId = document.Id, Index = p.Index, ImageBlobKey = p.ImageBlobKey };
                db.Pages.Add(page);
            }

            page.Width = p.Width;
            page.Height = p.Height;
            page.Resolution = resolution;
            page.ImageBlobKey = p.ImageBlobKey;
            page.TextLayer = p.TextLayer;

            // One job per (page, task): a worker may already have claimed it and recorded its checkpoint.
            var job = page.Jobs.FirstOrDefault(j => j.Task == prepared.Task);
            if (job is null)
            {
                job = new Job { Id = Guid.CreateVersion7(), PageId = page.Id, DocumentId = document.Id, Task = prepared.Task, Status = JobStatus.Queued, EnqueuedAt = now };
                db.Jobs.Add(job);
            }

            if (job.Status == JobStatus.Queued)
            {
                result.Add((job, page));
            }
        }

        await db.SaveChangesAsync(ct).ConfigureAwait(false);
        return result;
    }
}
