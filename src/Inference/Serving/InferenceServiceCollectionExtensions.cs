using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using PaliGemma2.DocPipeline.Pipeline.Hosting;
using PaliGemma2.DocPipeline.ServiceDefaults;

namespace PaliGemma2.DocPipeline.Inference.Serving;

/// <summary>
/// Wires role <c>infer</c> (the <c>infer-&lt;task&gt;</c> consumers for the tasks in <c>Inference:Tasks</c>) into a host
/// built with <c>AddDocPipeline</c>: <see cref="AddInferenceConsumers"/> goes to its bus callback, then
/// <see cref="AddInferenceServing"/> after it. Only hosts that reference this library carry ONNX Runtime.
/// </summary>
public static class InferenceServiceCollectionExtensions
{
    /// <summary>
    /// Adds the models this process serves (<see cref="ModelCatalog"/>) and the readiness check that waits for them.
    /// Call after <c>AddDocPipeline</c>: the catalog connects its endpoints to a bus that must already be running.
    /// </summary>
    /// <param name="services">The container.</param>
    /// <param name="configuration">The process configuration.</param>
    public static IServiceCollection AddInferenceServing(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<InferenceOptions>().BindConfiguration(InferenceOptions.Section);
        if (Serves(configuration))
        {
            // After MassTransit's hosted service: the bus runs when ModelCatalog connects the infer-<task> endpoints.
            services.AddSingleton<ModelCatalog>();
            services.AddHostedService(sp => sp.GetRequiredService<ModelCatalog>());
            services.AddHealthChecks().AddCheck<ModelsReadyHealthCheck>("models", tags: [HealthTags.Ready]);
        }

        return services;
    }

    /// <summary>Adds the inference consumer to the pipeline's bus (pass to <c>AddDocPipeline</c>).</summary>
    /// <param name="bus">The pipeline's bus registration.</param>
    /// <param name="configuration">The process configuration.</param>
    public static void AddInferenceConsumers(this IBusRegistrationConfigurator bus, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(bus);
        if (Serves(configuration))
        {
            // One consumer type, one infer-<task> endpoint per served task, connected by ModelCatalog once its model is warm.
            bus.AddConsumer<InferenceConsumer, InferenceConsumerDefinition>().ExcludeFromConfigureEndpoints();
        }
    }

    private static bool Serves(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = configuration.GetSection(InferenceOptions.Section).Get<InferenceOptions>() ?? new InferenceOptions();
        return PipelineRoles.From(configuration).Has(PipelineRoles.Infer) && options.Tasks.Count > 0;
    }
}
