using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using PaliGemma2.DocPipeline.Documents.Dicom;
using PaliGemma2.DocPipeline.Documents.Images;
using PaliGemma2.DocPipeline.Documents.Pdf;
using PaliGemma2.DocPipeline.Documents.Sandbox;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Pipeline.Intake;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Pipeline.Preparation;
using PaliGemma2.DocPipeline.Pipeline.State;
using PaliGemma2.DocPipeline.ServiceDefaults;
using PaliGemma2.DocPipeline.Storage;

namespace PaliGemma2.DocPipeline.Pipeline.Hosting;

/// <summary>Wires storage, intake, the stages chosen by configuration and the bus.</summary>
public static class PipelineServiceCollectionExtensions
{
    /// <summary>
    /// Adds everything a DocPipeline process needs for its <see cref="PipelineRoles"/> except serving models (role
    /// <c>infer</c>), which the Inference library adds to hosts that carry ONNX Runtime (<c>AddInferenceServing</c>).
    /// Embedded and distributed mode differ only in configuration (<c>Pipeline:Transport</c>, <c>Storage:Provider</c>,
    /// <c>Roles</c>), never in code paths.
    /// </summary>
    /// <param name="services">The container.</param>
    /// <param name="configuration">The process configuration.</param>
    /// <param name="configureBus">Adds further consumers (the PACS write-back, inference) to the same bus.</param>
    public static IServiceCollection AddDocPipeline(
        this IServiceCollection services, IConfiguration configuration, Action<IBusRegistrationConfigurator>? configureBus = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var pipeline = configuration.GetSection(PipelineOptions.Section).Get<PipelineOptions>() ?? new PipelineOptions();
        var intakeOptions = configuration.GetSection(IntakeOptions.Section).Get<IntakeOptions>() ?? new IntakeOptions();
        var roles = PipelineRoles.From(configuration);

        services.AddOptions<PipelineOptions>().BindConfiguration(PipelineOptions.Section);
        services.AddOptions<IntakeOptions>().BindConfiguration(IntakeOptions.Section);
        services.AddOptions<PreparationOptions>().BindConfiguration(PreparationOptions.Section);
        // One size limit for every side (Intake:MaxFileBytes): the API must not accept what preparation refuses.
        services.AddOptions<PdfRenderOptions>().BindConfiguration(PdfRenderOptions.Section)
            .PostConfigure<IOptions<IntakeOptions>>((pdf, intake) => pdf.MaxFileBytes = intake.Value.MaxFileBytes);
        services.AddOptions<ImageLimits>().BindConfiguration(ImageLimits.Section);
        services.AddOptions<SandboxOptions>().BindConfiguration(SandboxOptions.Section);
        services.AddSingleton(sp => new DecodeSandbox(sp.GetRequiredService<IOptions<SandboxOptions>>().Value, sp.GetRequiredService<ILogger<DecodeSandbox>>()));
        services.AddSingleton(Microsoft.Extensions.Options.Options.Create(DicomLimits.Default));
        services.AddSingleton(TimeProvider.System);

        services.AddDocPipelineStorage(configuration);
        services.AddScoped<DocumentIntake>();
        services.AddScoped<PagePreparer>();
        services.AddScoped<CheckpointRegistry>();
        services.AddOptions<RecoveryOptions>().BindConfiguration(RecoveryOptions.Section);
        services.AddScoped<PipelineState>();
        services.AddSingleton<LeaseHeartbeat>();
        services.AddScoped<Replayer>();
        services.AddMetrics();
        services.AddSingleton<PipelineMetrics>();
        services.AddHealthChecks().AddCheck<DbContextHealthCheck<DocPipelineDbContext>>("database", tags: [HealthTags.Ready]);

        if (pipeline.MigrateOnStart)
        {
            services.AddHostedService<DatabaseMigrator>();
        }

        // Intake is the always-on singleton: what must run while preparation and inference sit at zero replicas.
        if (roles.Has(PipelineRoles.Intake) && !string.IsNullOrEmpty(intakeOptions.DropFolder))
        {
            services.AddHostedService<DropFolderWatcher>();
        }

        if (roles.Has(PipelineRoles.Intake))
        {
            services.AddSingleton<RecoveryService>();
            services.AddHostedService(sp => sp.GetRequiredService<RecoveryService>());
        }

        // SIGTERM: MassTransit stops fetching and lets the message in hand (an inference batch) finish and be
        // acknowledged for StopTimeout before it cancels its token; the host waits a little longer than that.
        services.AddOptions<MassTransitHostOptions>().Configure(o =>
        {
            o.WaitUntilStarted = true;
            o.ConsumerStopTimeout = pipeline.StopTimeout;
            o.StopTimeout = pipeline.StopTimeout + TimeSpan.FromSeconds(10);
        });
        services.Configure<HostOptions>(o => o.ShutdownTimeout = pipeline.StopTimeout + TimeSpan.FromSeconds(15));

        services.AddMassTransit(x =>
        {
            // MassTransit 8.4+ reports usage to a third-party host by default: no egress from a hospital network.
            x.DisableUsageTelemetry();
            x.SetKebabCaseEndpointNameFormatter();
            if (roles.Has(PipelineRoles.Prepare))
            {
                x.AddConsumer<PrepareDocumentConsumer, PrepareDocumentConsumerDefinition>();
                x.AddConsumer<PreparationFaultConsumer, PreparationFaultConsumerDefinition>();
                x.AddConsumer<InferenceFaultConsumer, InferenceFaultConsumerDefinition>();
            }

            if (roles.Has(PipelineRoles.Intake))
            {
                x.AddConsumer<SubmitDocumentConsumer, SubmitDocumentConsumerDefinition>();
            }

            configureBus?.Invoke(x);

            if (pipeline.Transport == Transport.RabbitMq)
            {
                var uri = configuration.GetConnectionString("RabbitMq")
                    ?? throw new InvalidOperationException("ConnectionStrings:RabbitMq is required when Pipeline:Transport is RabbitMq.");
                x.UsingRabbitMq((context, cfg) =>
                {
                    cfg.Host(new Uri(uri), h => h.PublisherConfirmation = true);
                    cfg.ConfigureEndpoints(context);
                });
            }
            else
            {
                x.UsingInMemory((context, cfg) => cfg.ConfigureEndpoints(context));
            }
        });

        return services;
    }
}
