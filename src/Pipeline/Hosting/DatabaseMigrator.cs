using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace PaliGemma2.DocPipeline.Pipeline.Hosting;

/// <summary>
/// Applies migrations before the bus starts (registered ahead of MassTransit's hosted service).
/// EF Core takes a migration lock, so processes starting together do not race.
/// </summary>
public sealed class DatabaseMigrator(IServiceScopeFactory scopes) : IHostedService
{
    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<Storage.DocPipelineDbContext>();
                await db.Database.MigrateAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (System.Data.Common.DbException) when (attempt < 5)
            {
                // Processes starting together on an empty database can race to create the migration
                // bookkeeping tables themselves (before EF's migration lock exists); the loser retries.
                await Task.Delay(TimeSpan.FromMilliseconds(250 * attempt), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
