using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using PaliGemma2.DocPipeline.Storage;

namespace PaliGemma2.DocPipeline.Api.Health;

/// <summary><c>/health/live</c> (the process answers) and <c>/health/ready</c> (database and broker reachable).</summary>
internal static class HealthEndpoints
{
    /// <summary>MassTransit tags its bus check "ready"; the database check joins it.</summary>
    private const string Ready = "ready";

    public static IServiceCollection AddApiHealthChecks(this IServiceCollection services)
    {
        services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: [Ready]);
        return services;
    }

    public static IEndpointRouteBuilder MapApiHealthChecks(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        var ready = new HealthCheckOptions
        {
            Predicate = c => c.Tags.Contains(Ready),
            // A bus that is reconnecting reports Degraded: it cannot take uploads, so the instance is not ready.
            ResultStatusCodes =
            {
                [HealthStatus.Healthy] = StatusCodes.Status200OK,
                [HealthStatus.Degraded] = StatusCodes.Status503ServiceUnavailable,
                [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
            },
        };
        app.MapHealthChecks("/health/ready", ready);
        // Kept for existing probes and scripts; same answer as /health/ready.
        app.MapHealthChecks("/healthz", ready);
        return app;
    }
}

/// <summary>Healthy when a connection to the database opens.</summary>
internal sealed class DatabaseHealthCheck(DocPipelineDbContext db) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            return await db.Database.CanConnectAsync(cancellationToken).ConfigureAwait(false)
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy("The database does not accept connections.");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("The database does not accept connections.", ex);
        }
    }
}
