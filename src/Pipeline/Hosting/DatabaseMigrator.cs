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
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Storage.DocPipelineDbContext>();
        await db.Database.MigrateAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
