using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace PaliGemma2.DocPipeline.Pipeline.State;

/// <summary>
/// Renews a lease in the background while long work runs (a batch decoding, a PDF rendering), on its own
/// DbContext because the worker's context is busy. Disposing stops it; a missed renewal is only logged: the
/// worst outcome is that recovery re-queues work that then turns out to be finished, which is idempotent.
/// </summary>
public sealed class LeaseHeartbeat(IServiceScopeFactory scopes, TimeProvider time, ILogger<LeaseHeartbeat> logger)
{
    /// <summary>Calls <paramref name="renew"/> every <paramref name="every"/> until the returned handle is disposed.</summary>
    public IAsyncDisposable Start(TimeSpan every, Func<PipelineState, CancellationToken, Task> renew)
    {
        ArgumentNullException.ThrowIfNull(renew);
        var stop = new CancellationTokenSource();
        var loop = RunAsync(every > TimeSpan.Zero ? every : TimeSpan.FromSeconds(10), renew, stop.Token);
        return new Handle(stop, loop);
    }

    private async Task RunAsync(TimeSpan every, Func<PipelineState, CancellationToken, Task> renew, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(every, time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                try
                {
                    await using var scope = scopes.CreateAsyncScope();
                    await renew(scope.ServiceProvider.GetRequiredService<PipelineState>(), ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogWarning("Lease renewal failed: {Error}", ex.GetType().Name);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private sealed class Handle(CancellationTokenSource stop, Task loop) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await loop.ConfigureAwait(false);
            stop.Dispose();
        }
    }
}
