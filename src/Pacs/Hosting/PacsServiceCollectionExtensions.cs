using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using PaliGemma2.DocPipeline.Pacs.Orthanc;
using PaliGemma2.DocPipeline.Pipeline.Hosting;
using PaliGemma2.DocPipeline.Pacs.WriteBack;

namespace PaliGemma2.DocPipeline.Pacs.Hosting;

/// <summary>Wires the PACS integration: Orthanc intake (role intake) and SR write-back (role writeback), each switched on by configuration.</summary>
public static class PacsServiceCollectionExtensions
{
    /// <summary>Adds the PACS services (<c>Pacs:Intake</c>, <c>Pacs:WriteBack</c>).</summary>
    public static IServiceCollection AddPacs(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<OrthancIntakeOptions>().BindConfiguration(OrthancIntakeOptions.Section);
        services.AddOptions<WriteBackOptions>().BindConfiguration(WriteBackOptions.Section);
        // No per-request logging: one poll a second would flood the log; our own messages say what happened.
        services.AddHttpClient(OrthancChangeFeed.HttpClientName, h => h.Timeout = TimeSpan.FromMinutes(2)).RemoveAllLoggers();
        services.AddHttpClient(SrSender.HttpClientName, h => h.Timeout = TimeSpan.FromMinutes(1)).RemoveAllLoggers();
        services.AddScoped<SrSender>();

        if (configuration.GetSection(OrthancIntakeOptions.Section).GetValue<bool>(nameof(OrthancIntakeOptions.Enabled))
            && PipelineRoles.From(configuration).Has(PipelineRoles.Intake))
        {
            services.AddHostedService<OrthancChangeFeed>();
        }

        return services;
    }

    /// <summary>Adds the PACS consumers to the pipeline's bus (pass to <c>AddDocPipeline</c>).</summary>
    public static void AddPacsConsumers(this IBusRegistrationConfigurator bus, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(configuration);
        if (configuration.GetSection(WriteBackOptions.Section).GetValue<bool>(nameof(WriteBackOptions.Enabled))
            && PipelineRoles.From(configuration).Has(PipelineRoles.WriteBack))
        {
            bus.AddConsumer<ReportWriteBackConsumer, ReportWriteBackConsumerDefinition>();
        }
    }
}
