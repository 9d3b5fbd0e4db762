using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Storage;
using PaliGemma2.DocPipeline.Storage.Entities;

namespace PaliGemma2.DocPipeline.Pipeline.Intake;

/// <summary>
/// Without a transactional outbox, a process can die between committing a document and publishing
/// its event. This sweeper re-publishes documents that stayed <c>received</c> too long; preparation
/// is idempotent, so a spurious re-publish costs nothing.
/// </summary>
public sealed class StalledDocumentSweeper(IServiceScopeFactory scopes, IOptions<IntakeOptions> options, TimeProvider time, ILogger<StalledDocumentSweeper> logger)
    : BackgroundService
{
    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var every = options.Value.RepublishAfter / 2;
        using var timer = new PeriodicTimer(every > TimeSpan.Zero ? every : TimeSpan.FromMinutes(1), time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await SweepAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "Stalled document sweep failed");
            }
        }
    }

    /// <summary>Re-publishes every document received before the cut-off and not yet prepared.</summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DocPipelineDbContext>();
        var publish = scope.ServiceProvider.GetRequiredService<IPublishEndpoint>();
        var cutoff = time.GetUtcNow() - options.Value.RepublishAfter;
        // SQLite cannot compare DateTimeOffset in SQL; the candidate set is small, filter the time here.
        var stalled = (await db.Documents.AsNoTracking().Where(d => d.Status == DocumentStatus.Received)
            .ToListAsync(cancellationToken).ConfigureAwait(false)).Where(d => d.ReceivedAt < cutoff).ToList();
        foreach (var d in stalled)
        {
            await publish.Publish(DocumentIntake.ToMessage(d), cancellationToken).ConfigureAwait(false);
        }

        if (stalled.Count > 0)
        {
            logger.LogInformation("Re-published {Count} stalled document(s)", stalled.Count);
        }

        return stalled.Count;
    }
}
