using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Pipeline.Intake;
using PaliGemma2.DocPipeline.Documents;
using PaliGemma2.DocPipeline.Storage;
using PaliGemma2.DocPipeline.Storage.Entities;

namespace PaliGemma2.DocPipeline.Pipeline.State;

/// <summary>What one recovery pass did.</summary>
/// <param name="Republished">Documents announced again (left received, or preparing under an expired lease).</param>
/// <param name="Requeued">Running jobs whose lease expired, sent to their queue again.</param>
/// <param name="Failed">Documents and jobs failed because their work was lost too many times.</param>
/// <param name="Completed">Queued documents whose jobs had all ended, moved to done/partial/failed.</param>
public sealed record RecoveryPass(int Republished, int Requeued, int Failed, int Completed)
{
    /// <summary>Sum of everything the pass changed.</summary>
    public int Total => Republished + Requeued + Failed + Completed;
}

/// <summary>
/// Recovers every non-terminal state a dead process can leave behind:
/// <list type="bullet">
/// <item><c>received</c> for longer than <see cref="IntakeOptions.RepublishAfter"/> (died between commit and publish): announced again;</item>
/// <item><c>preparing</c> with an expired lease (the preparing worker died): announced again, failed with the reason after
/// <see cref="RecoveryOptions.MaxAttempts"/> starts;</item>
/// <item>job <c>running</c> with an expired lease and nobody claiming it since: queued and sent again, failed after
/// <see cref="RecoveryOptions.MaxAttempts"/> attempts;</item>
/// <item><c>queued</c> document whose jobs all ended (a worker died between the job and the document update): completed.</item>
/// </list>
/// A queued job's lease is its durable message on the broker (publisher confirms, manual ack). Every consumer is
/// idempotent, so a spurious recovery costs a redundant message, never a duplicate result.
/// </summary>
public sealed class RecoveryService(
    IServiceScopeFactory scopes,
    IOptions<IntakeOptions> intake,
    IOptions<RecoveryOptions> options,
    TimeProvider time,
    ILogger<RecoveryService> logger) : BackgroundService
{
    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var every = options.Value.Interval;
        using var timer = new PeriodicTimer(every > TimeSpan.Zero ? every : TimeSpan.FromSeconds(30), time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await RecoverAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "Recovery pass failed");
            }
        }
    }

    /// <summary>One pass over every non-terminal state.</summary>
    public async Task<RecoveryPass> RecoverAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DocPipelineDbContext>();
        var state = scope.ServiceProvider.GetRequiredService<PipelineState>();
        var publish = scope.ServiceProvider.GetRequiredService<IPublishEndpoint>();
        var send = scope.ServiceProvider.GetRequiredService<ISendEndpointProvider>();
        var now = time.GetUtcNow();
        var max = Math.Max(1, options.Value.MaxAttempts);
        int republished = 0, requeued = 0, failed = 0, completed = 0;

        // SQLite cannot compare DateTimeOffset in SQL; the in-flight sets are small, so times are compared here.
        var documents = (await db.Documents.AsNoTracking()
            .Where(d => d.Status == DocumentStatus.Received || d.Status == DocumentStatus.Preparing)
            .ToListAsync(cancellationToken).ConfigureAwait(false))
            .Where(d => d.Status == DocumentStatus.Received
                ? d.ReceivedAt < now - intake.Value.RepublishAfter && (d.LeaseExpiresAt ?? d.ReceivedAt) < now
                : (d.LeaseExpiresAt ?? d.ReceivedAt) < now)
            .ToList();
        foreach (var d in documents)
        {
            if (d.Status == DocumentStatus.Preparing && d.PrepareAttempts >= max)
            {
                var reason = $"Preparation did not finish after {d.PrepareAttempts} attempt(s): the worker stopped each time (lease expired).";
                failed += await state.FailDocumentAsync(d.Id, Reasons.PreparationStalled, reason, publish, cancellationToken).ConfigureAwait(false) ? 1 : 0;
                continue;
            }

            // Announced once per RepublishAfter, not on every pass: behind a backlog of preparation the announcement
            // may just be waiting in the queue, and a copy per pass would flood it.
            if (await state.ReannounceAsync(d, now + intake.Value.RepublishAfter, cancellationToken).ConfigureAwait(false))
            {
                await publish.Publish(DocumentIntake.ToMessage(d), cancellationToken).ConfigureAwait(false);
                republished++;
            }
        }

        var running = (await db.Jobs.AsNoTracking().Where(j => j.Status == JobStatus.Running).ToListAsync(cancellationToken).ConfigureAwait(false))
            .Where(j => (j.LeaseExpiresAt ?? j.StartedAt ?? j.EnqueuedAt) < now)
            .ToList();
        var touched = new HashSet<Guid>();
        foreach (var job in running)
        {
            if (job.Attempts >= max)
            {
                await state.FailJobsAsync([(job.Id, $"Inference did not finish after {job.Attempts} attempt(s): the worker stopped each time (lease expired).")], cancellationToken)
                    .ConfigureAwait(false);
                touched.Add(job.DocumentId);
                failed++;
                continue;
            }

            if (!await state.RequeueJobAsync(job, cancellationToken).ConfigureAwait(false))
            {
                continue;
            }

            var page = await db.Pages.AsNoTracking().FirstAsync(p => p.Id == job.PageId, cancellationToken).ConfigureAwait(false);
            var endpoint = await send.GetSendEndpoint(new Uri($"queue:{TaskNames.QueueOf(job.Task)}")).ConfigureAwait(false);
            await endpoint.Send(InferenceRequests.For(job, page), cancellationToken).ConfigureAwait(false);
            requeued++;
        }

        var queued = await db.Documents.AsNoTracking()
            .Where(d => d.Status == DocumentStatus.Queued && !db.Jobs.Any(j => j.DocumentId == d.Id && (j.Status == JobStatus.Queued || j.Status == JobStatus.Running)))
            .Select(d => d.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
        touched.UnionWith(queued);
        await state.CompleteDocumentsAsync(touched, cancellationToken).ConfigureAwait(false);
        completed = queued.Count;

        var pass = new RecoveryPass(republished, requeued, failed, completed);
        if (pass.Total > 0)
        {
            logger.LogInformation("Recovery: {Republished} document(s) announced again, {Requeued} job(s) re-queued, {Failed} failed, {Completed} completed",
                republished, requeued, failed, completed);
        }

        return pass;
    }
}
