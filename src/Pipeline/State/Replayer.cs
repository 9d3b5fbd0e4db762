using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Pipeline.Intake;
using PaliGemma2.DocPipeline.Storage;
using PaliGemma2.DocPipeline.Storage.Entities;

namespace PaliGemma2.DocPipeline.Pipeline.State;

/// <summary>Which failed work to replay; every filter given must match (none given: nothing is chosen).</summary>
public sealed record ReplaySelection
{
    /// <summary>Failed jobs by id, or documents by id (their failed jobs, or the document when preparation failed).</summary>
    public IReadOnlyCollection<Guid> Ids { get; init; } = [];

    /// <summary>Only work of this task.</summary>
    public string? Task { get; init; }

    /// <summary>Only work whose stored error contains this text (case-insensitive).</summary>
    public string? Reason { get; init; }

    /// <summary>Whether anything narrows the choice; replaying every failure needs an explicit filter.</summary>
    public bool IsEmpty => Ids.Count == 0 && Task is null && Reason is null;
}

/// <summary>What a replay re-queued.</summary>
/// <param name="Jobs">Failed jobs queued and sent to their inference queue again.</param>
/// <param name="Documents">Documents that failed preparation, received and announced again.</param>
public sealed record ReplayOutcome(int Jobs, int Documents);

/// <summary>
/// <c>docpipe replay</c>: after a fix, failed jobs go back to their queue and documents that failed preparation
/// are announced again. Rows move through <see cref="PipelineState"/>, so a replay racing with itself re-queues once.
/// </summary>
public sealed class Replayer(DocPipelineDbContext db, PipelineState state, IPublishEndpoint publish, ISendEndpointProvider send, ILogger<Replayer> logger)
{
    /// <summary>Re-queues what <paramref name="selection"/> picks.</summary>
    public async Task<ReplayOutcome> ReplayAsync(ReplaySelection selection, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(selection);
        if (selection.IsEmpty)
        {
            return new ReplayOutcome(0, 0);
        }

        var ids = selection.Ids.ToList();
        var jobs = db.Jobs.AsNoTracking().Where(j => j.Status == JobStatus.Failed);
        var documents = db.Documents.AsNoTracking().Where(d => d.Status == DocumentStatus.Failed && !db.Jobs.Any(j => j.DocumentId == d.Id));
        if (ids.Count > 0)
        {
            jobs = jobs.Where(j => ids.Contains(j.Id) || ids.Contains(j.DocumentId));
            documents = documents.Where(d => ids.Contains(d.Id));
        }

        if (selection.Task is { } task)
        {
            jobs = jobs.Where(j => j.Task == task);
            documents = documents.Where(d => d.Task == task);
        }

        // Filtered here: a case-insensitive "contains" is spelt differently on each provider.
        var reason = selection.Reason;
        var failedJobs = (await jobs.ToListAsync(ct).ConfigureAwait(false))
            .Where(j => reason is null || (j.Error ?? "").Contains(reason, StringComparison.OrdinalIgnoreCase)).ToList();
        var failedDocuments = (await documents.ToListAsync(ct).ConfigureAwait(false))
            .Where(d => reason is null || (d.Error ?? "").Contains(reason, StringComparison.OrdinalIgnoreCase)).ToList();

        var requeued = 0;
        foreach (var job in failedJobs)
        {
            if (!await state.ReopenJobAsync(job.Id, ct).ConfigureAwait(false))
            {
                continue;
            }

            var page = await db.Pages.AsNoTracking().FirstAsync(p => p.Id == job.PageId, ct).ConfigureAwait(false);
            var endpoint = await send.GetSendEndpoint(new Uri($"queue:{TaskNames.QueueOf(job.Task)}")).ConfigureAwait(false);
            await endpoint.Send(InferenceRequests.For(job, page), ct).ConfigureAwait(false);
            requeued++;
        }

        var announced = 0;
        foreach (var document in failedDocuments)
        {
            if (!await state.ReopenDocumentAsync(document.Id, ct).ConfigureAwait(false))
            {
                continue;
            }

            await publish.Publish(DocumentIntake.ToMessage(document), ct).ConfigureAwait(false);
            announced++;
        }

        logger.LogInformation("Replay: {Jobs} job(s) and {Documents} document(s) re-queued", requeued, announced);
        return new ReplayOutcome(requeued, announced);
    }
}
