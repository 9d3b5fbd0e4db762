using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Pipeline.Hosting;
using PaliGemma2.DocPipeline.Storage;
using PaliGemma2.DocPipeline.Storage.Entities;

namespace PaliGemma2.DocPipeline.Pipeline.State;

/// <summary>
/// The one owner of document and job state: every status change of a <c>documents</c> or <c>jobs</c> row after
/// intake goes through here, as a conditional update from the states it may leave, so two processes racing on
/// one row (a redelivery, recovery, a slow worker) cannot move it backwards. Work in flight holds a lease
/// (<see cref="Document.LeaseExpiresAt"/>, <see cref="Job.LeaseExpiresAt"/>) that <see cref="RecoveryService"/> acts on.
/// Being the owner, it also counts each transition once (<c>docpipe.documents</c> by status), whichever process made it.
/// </summary>
public sealed class PipelineState(DocPipelineDbContext db, TimeProvider time, IOptions<RecoveryOptions> options, PipelineMetrics metrics, ILogger<PipelineState> logger)
{
    private const int MaxReason = 1000;

    /// <summary>
    /// Takes a received (or lease-expired preparing) document for preparation; null when it is past that or another
    /// worker holds it. A duplicate announcement (recovery's) while a live worker renews its lease is dropped here, so
    /// two workers do not prepare one document. <paramref name="redelivered"/>: the broker handed this message back
    /// because the worker that had it died (or the consumer retries it), so a preparing document is taken at once
    /// instead of after its lease.
    /// </summary>
    public async Task<Document?> StartPreparingAsync(Guid documentId, bool redelivered, CancellationToken ct)
    {
        var document = await db.Documents.AsNoTracking().FirstOrDefaultAsync(d => d.Id == documentId, ct).ConfigureAwait(false);
        var now = time.GetUtcNow();
        if (document is null
            || !(document.Status == DocumentStatus.Received
                 || (document.Status == DocumentStatus.Preparing && (redelivered || (document.LeaseExpiresAt ?? now) <= now))))
        {
            return null;
        }

        // Optimistic: the row must still be as read (status and attempt count), else another worker took it first.
        var lease = now + options.Value.PreparationLease;
        var taken = await db.Documents
            .Where(d => d.Id == documentId && d.Status == document.Status && d.PrepareAttempts == document.PrepareAttempts)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.Status, DocumentStatus.Preparing).SetProperty(d => d.PrepareAttempts, d => d.PrepareAttempts + 1)
                .SetProperty(d => d.LeaseExpiresAt, lease), ct)
            .ConfigureAwait(false);
        if (taken == 0)
        {
            return null;
        }

        document.Status = DocumentStatus.Preparing;
        document.PrepareAttempts++;
        document.LeaseExpiresAt = lease;
        return document;
    }

    /// <summary>
    /// Before recovery announces a document again: received (or preparing under an expired lease) → received, not
    /// announced again before <paramref name="nextAnnouncement"/>. Returns whether the row was still as recovery saw it.
    /// </summary>
    public async Task<bool> ReannounceAsync(Document seen, DateTimeOffset nextAnnouncement, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(seen);
        var changed = await db.Documents
            .Where(d => d.Id == seen.Id && d.Status == seen.Status && d.PrepareAttempts == seen.PrepareAttempts)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.Status, DocumentStatus.Received).SetProperty(d => d.LeaseExpiresAt, nextAnnouncement), ct)
            .ConfigureAwait(false);
        return changed > 0;
    }

    /// <summary>Extends the lease of a document still being prepared.</summary>
    public Task RenewPreparationAsync(Guid documentId, CancellationToken ct)
    {
        var until = time.GetUtcNow() + options.Value.PreparationLease;
        return db.Documents.Where(d => d.Id == documentId && d.Status == DocumentStatus.Preparing)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.LeaseExpiresAt, until), ct);
    }

    /// <summary>
    /// Every page has a queued job and a sent request: preparing → queued (then done at once if the workers were faster).
    /// <paramref name="task"/> is the task the pages were queued for (a DICOM sent as <c>auto</c>: the routed one).
    /// </summary>
    public async Task MarkQueuedAsync(Guid documentId, string task, string? metadata, CancellationToken ct)
    {
        // Metadata first: whoever sees the document queued (an API client, a test) sees what preparation read too.
        await db.Documents.Where(d => d.Id == documentId)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.Metadata, metadata), ct).ConfigureAwait(false);
        var queued = await db.Documents.Where(d => d.Id == documentId && d.Status == DocumentStatus.Preparing)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.Status, DocumentStatus.Queued).SetProperty(d => d.LeaseExpiresAt, (DateTimeOffset?)null), ct)
            .ConfigureAwait(false);
        Count(queued, DocumentStatus.Queued, task);
        await CompleteDocumentsAsync([documentId], ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Received or preparing → failed with <paramref name="reason"/> (plain words) under <paramref name="reasonCode"/>
    /// (the reasons table), announced as <see cref="DocumentFailed"/>; false when it was past that.
    /// </summary>
    public async Task<bool> FailDocumentAsync(Guid documentId, string reasonCode, string reason, IPublishEndpoint publish, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(publish);
        var error = Clip(reason);
        var changed = await db.Documents.Where(d => d.Id == documentId && (d.Status == DocumentStatus.Received || d.Status == DocumentStatus.Preparing))
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.Status, DocumentStatus.Failed).SetProperty(d => d.Error, error)
                .SetProperty(d => d.ReasonCode, reasonCode).SetProperty(d => d.LeaseExpiresAt, (DateTimeOffset?)null), ct)
            .ConfigureAwait(false);
        if (changed > 0)
        {
            metrics.Failure("preparation", reasonCode);
            // Callers such as the fault consumer know only the id: the task label is read back once, on this rare path.
            var task = await db.Documents.AsNoTracking().Where(d => d.Id == documentId).Select(d => d.Task).FirstAsync(ct).ConfigureAwait(false);
            Count(changed, DocumentStatus.Failed, task);
            await publish.Publish(new DocumentFailed { DocumentId = documentId, Reason = error }, ct).ConfigureAwait(false);
        }

        return changed > 0;
    }

    /// <summary>
    /// Claims the listed jobs for <paramref name="worker"/>: queued (or running under a lease nobody renews: a
    /// redelivery after a crash) → running with a lease, recording the checkpoint <paramref name="checkpointOf"/> names for
    /// the job's task (the one this worker loaded). Done and failed jobs are not returned. The entities stay
    /// tracked for <see cref="StoreResultsAsync"/>.
    /// </summary>
    public async Task<List<Job>> ClaimJobsAsync(IReadOnlyCollection<Guid> jobIds, string worker, Func<string, string> checkpointOf, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(checkpointOf);
        var jobs = await db.Jobs.Where(j => jobIds.Contains(j.Id) && (j.Status == JobStatus.Queued || j.Status == JobStatus.Running))
            .ToListAsync(ct).ConfigureAwait(false);
        var now = time.GetUtcNow();
        foreach (var job in jobs)
        {
            job.Status = JobStatus.Running;
            job.Attempts++;
            job.Worker = worker;
            job.Checkpoint = checkpointOf(job.Task);
            job.StartedAt = now;
            job.LeaseExpiresAt = now + options.Value.InferenceLease;
        }

        await db.SaveChangesAsync(ct).ConfigureAwait(false);
        return jobs;
    }

    /// <summary>Extends the leases <paramref name="worker"/> holds on these jobs.</summary>
    public Task RenewJobsAsync(IReadOnlyCollection<Guid> jobIds, string worker, CancellationToken ct)
    {
        var until = time.GetUtcNow() + options.Value.InferenceLease;
        return db.Jobs.Where(j => jobIds.Contains(j.Id) && j.Status == JobStatus.Running && j.Worker == worker)
            .ExecuteUpdateAsync(s => s.SetProperty(j => j.LeaseExpiresAt, until), ct);
    }

    /// <summary>
    /// Stores each result and marks its (claimed, tracked) job done. One SaveChanges for the batch; when the database
    /// refuses it, each result is stored alone and a result the database refuses fails only its own job, with the
    /// database's reason. A result another delivery stored first is skipped. Returns the results stored here.
    /// A database that cannot be reached throws: nothing failed, the message is retried.
    /// </summary>
    public async Task<List<Result>> StoreResultsAsync(IReadOnlyList<(Result Result, Job Job)> items, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(items);
        foreach (var (result, job) in items)
        {
            SanitizeResult(result);
            db.Results.Add(result);
            MarkDone(job, result);
        }

        try
        {
            await db.SaveChangesAsync(ct).ConfigureAwait(false);
            return items.Select(i => i.Result).ToList();
        }
        catch (DbUpdateException ex) when (StorageErrors.IsRefusedData(ex))
        {
            logger.LogWarning("Storing a batch of {Count} result(s) was refused ({Error}); storing them one by one", items.Count, ex.InnerException?.GetType().Name);
        }

        db.ChangeTracker.Clear();
        var stored = new List<Result>(items.Count);
        var failures = new List<(Guid JobId, string Reason)>();
        foreach (var (result, claimed) in items)
        {
            var job = await db.Jobs.FirstAsync(j => j.Id == claimed.Id, ct).ConfigureAwait(false);
            if (job.Status is JobStatus.Done or JobStatus.Failed)
            {
                db.ChangeTracker.Clear();
                continue;
            }

            db.Results.Add(result);
            MarkDone(job, result);
            try
            {
                await db.SaveChangesAsync(ct).ConfigureAwait(false);
                stored.Add(result);
            }
            catch (DbUpdateException ex) when (StorageErrors.IsUniqueViolation(ex))
            {
                // Another delivery of this job stored (and announced) it first.
            }
            catch (DbUpdateException ex) when (StorageErrors.IsRefusedData(ex))
            {
                failures.Add((job.Id, "Storing the result failed: " + StorageErrors.Describe(ex)));
            }
            finally
            {
                db.ChangeTracker.Clear();
            }
        }

        await FailJobsAsync(failures, ct).ConfigureAwait(false);
        return stored;
    }

    /// <summary>Queued or running → failed with the reason (a job already done or failed is left alone).</summary>
    public async Task FailJobsAsync(IEnumerable<(Guid JobId, string Reason)> failures, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(failures);
        var now = time.GetUtcNow();
        foreach (var (jobId, reason) in failures)
        {
            var error = Clip(reason);
            await db.Jobs.Where(j => j.Id == jobId && (j.Status == JobStatus.Queued || j.Status == JobStatus.Running))
                .ExecuteUpdateAsync(s => s.SetProperty(j => j.Status, JobStatus.Failed).SetProperty(j => j.Error, error)
                    .SetProperty(j => j.FinishedAt, now).SetProperty(j => j.LeaseExpiresAt, (DateTimeOffset?)null), ct)
                .ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Running with an expired lease → queued again, only if nobody claimed it since (same worker and attempt count).
    /// Returns whether this call re-queued it.
    /// </summary>
    public async Task<bool> RequeueJobAsync(Job expired, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(expired);
        var changed = await db.Jobs.Where(j => j.Id == expired.Id && j.Status == JobStatus.Running && j.Worker == expired.Worker && j.Attempts == expired.Attempts)
            .ExecuteUpdateAsync(s => s.SetProperty(j => j.Status, JobStatus.Queued).SetProperty(j => j.LeaseExpiresAt, (DateTimeOffset?)null), ct)
            .ConfigureAwait(false);
        return changed > 0;
    }

    /// <summary>Failed → queued again (replay after a fix); returns whether this call changed it.</summary>
    public async Task<bool> ReopenJobAsync(Guid jobId, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var changed = await db.Jobs.Where(j => j.Id == jobId && j.Status == JobStatus.Failed)
            .ExecuteUpdateAsync(s => s.SetProperty(j => j.Status, JobStatus.Queued).SetProperty(j => j.Error, (string?)null)
                .SetProperty(j => j.Attempts, 0).SetProperty(j => j.EnqueuedAt, now).SetProperty(j => j.FinishedAt, (DateTimeOffset?)null), ct)
            .ConfigureAwait(false);
        if (changed > 0)
        {
            // Its document is no longer finished: partial/failed → queued until the job ends again.
            var documentId = await db.Jobs.Where(j => j.Id == jobId).Select(j => j.DocumentId).FirstAsync(ct).ConfigureAwait(false);
            await db.Documents.Where(d => d.Id == documentId && (d.Status == DocumentStatus.Failed || d.Status == DocumentStatus.Partial || d.Status == DocumentStatus.Done))
                .ExecuteUpdateAsync(s => s.SetProperty(d => d.Status, DocumentStatus.Queued).SetProperty(d => d.Error, (string?)null), ct)
                .ConfigureAwait(false);
        }

        return changed > 0;
    }

    /// <summary>A document that failed preparation → received again (replay after a fix); returns whether this call changed it.</summary>
    public async Task<bool> ReopenDocumentAsync(Guid documentId, CancellationToken ct)
    {
        var changed = await db.Documents.Where(d => d.Id == documentId && d.Status == DocumentStatus.Failed && !db.Jobs.Any(j => j.DocumentId == d.Id))
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.Status, DocumentStatus.Received).SetProperty(d => d.Error, (string?)null)
                .SetProperty(d => d.PrepareAttempts, 0), ct)
            .ConfigureAwait(false);
        return changed > 0;
    }

    /// <summary>
    /// Queued documents whose jobs have all ended → done (every job has a result), partial (some) or failed (none).
    /// A document still preparing is left to <see cref="MarkQueuedAsync"/>, which calls this again.
    /// </summary>
    public async Task CompleteDocumentsAsync(IReadOnlyCollection<Guid> documentIds, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(documentIds);
        foreach (var id in documentIds)
        {
            var jobs = await db.Jobs.AsNoTracking().Where(j => j.DocumentId == id).Select(j => new { j.Status, j.Error, j.Task }).ToListAsync(ct).ConfigureAwait(false);
            if (jobs.Count == 0 || jobs.Any(j => j.Status is JobStatus.Queued or JobStatus.Running))
            {
                continue;
            }

            var failed = jobs.Where(j => j.Status == JobStatus.Failed).ToList();
            var status = failed.Count == 0 ? DocumentStatus.Done : failed.Count < jobs.Count ? DocumentStatus.Partial : DocumentStatus.Failed;
            var error = failed.Count == 0 ? null
                : Clip($"Inference failed on {failed.Count} of {jobs.Count} page(s); first reason: {failed[0].Error}");
            var ended = await db.Documents.Where(d => d.Id == id && d.Status == DocumentStatus.Queued)
                .ExecuteUpdateAsync(s => s.SetProperty(d => d.Status, status).SetProperty(d => d.Error, error), ct).ConfigureAwait(false);
            Count(ended, status, jobs[0].Task);
        }
    }

    /// <summary>Counts a transition this call made (<paramref name="changed"/> rows: 0 when another process made it first).</summary>
    private void Count(int changed, DocumentStatus status, string task)
    {
        if (changed > 0)
        {
            metrics.Document(status.ToString().ToLowerInvariant(), task, changed);
        }
    }

    private void MarkDone(Job job, Result result)
    {
        job.Status = JobStatus.Done;
        job.CheckpointVersion = $"{result.Checkpoint}@{result.CheckpointVersion}";
        job.FinishedAt = time.GetUtcNow();
        job.LeaseExpiresAt = null;
        job.Error = null;
    }

    private static void SanitizeResult(Result result)
    {
        result.RawText = StorableText.Sanitize(result.RawText);
        result.PromptPrefix = StorableText.Sanitize(result.PromptPrefix);
    }

    private static string Clip(string reason)
    {
        var text = StorableText.Sanitize(reason);
        return text.Length <= MaxReason ? text : text[..MaxReason];
    }
}
