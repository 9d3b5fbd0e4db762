using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace PaliGemma2.DocPipeline.ServiceDefaults;

/// <summary>
/// What every DocPipeline host (Api, Worker in any role) shares: health checks, OpenTelemetry metrics served
/// at <c>/metrics</c> for Prometheus, and traces across HTTP, MassTransit and Npgsql, exported over OTLP only
/// when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (nothing leaves the network by default).
/// </summary>
public static class ServiceDefaultsExtensions
{
    /// <summary>The pipeline's own meter and activity source name.</summary>
    public const string TelemetryName = "PaliGemma2.DocPipeline";

    /// <summary>MassTransit's activity source and meter (spans across every message hop).</summary>
    private const string MassTransitName = "MassTransit";

    /// <summary>Adds health checks and OpenTelemetry.</summary>
    /// <param name="builder">The host builder.</param>
    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddHealthChecks();

        var otel = builder.Services.AddOpenTelemetry();
        otel.WithMetrics(m => m
            .AddMeter(TelemetryName, MassTransitName)
            .AddAspNetCoreInstrumentation()
            .AddHttpClientInstrumentation()
            .AddRuntimeInstrumentation()
            .AddPrometheusExporter());
        otel.WithTracing(t => t
            .AddSource(TelemetryName, MassTransitName)
            // Probes and scrapes every second would drown the traces that matter.
            .AddAspNetCoreInstrumentation(o => o.Filter = c => !c.Request.Path.StartsWithSegments("/health") && !c.Request.Path.StartsWithSegments("/metrics"))
            .AddHttpClientInstrumentation()
            .AddNpgsql());

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            otel.UseOtlpExporter();
        }

        return builder;
    }

    /// <summary>
    /// Maps <c>/health/live</c> (the process answers), <c>/health/ready</c> (every check tagged
    /// <see cref="HealthTags.Ready"/> healthy: database, broker, and on an inference worker its models loaded and
    /// warm), <c>/healthz</c> (same as ready, for older probes) and <c>/metrics</c> (Prometheus text format).
    /// </summary>
    /// <param name="app">The application.</param>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        var ready = new HealthCheckOptions
        {
            Predicate = c => c.Tags.Contains(HealthTags.Ready),
            // A bus that is reconnecting reports Degraded: it cannot take work, so the instance is not ready.
            ResultStatusCodes =
            {
                [HealthStatus.Healthy] = StatusCodes.Status200OK,
                [HealthStatus.Degraded] = StatusCodes.Status503ServiceUnavailable,
                [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
            },
        };
        app.MapHealthChecks("/health/ready", ready);
        app.MapHealthChecks("/healthz", ready);
        app.MapPrometheusScrapingEndpoint();
        return app;
    }
}
