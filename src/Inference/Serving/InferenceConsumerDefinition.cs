using MassTransit;
using Microsoft.Extensions.Options;

namespace PaliGemma2.DocPipeline.Inference.Serving;

/// <summary>
/// <c>infer-&lt;task&gt;</c> endpoints: one batch at a time per process (one GPU), batches of
/// <see cref="InferenceOptions.BatchSize"/> collected for at most <see cref="InferenceOptions.BatchTimeLimit"/>,
/// prefetch twice the batch so the next batch is waiting when the GPU frees up.
/// </summary>
public sealed class InferenceConsumerDefinition : ConsumerDefinition<InferenceConsumer>
{
    private readonly InferenceOptions _options;

    /// <summary>Reads the batch settings.</summary>
    public InferenceConsumerDefinition(IOptions<InferenceOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
    }

    /// <inheritdoc />
    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<InferenceConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        ArgumentNullException.ThrowIfNull(endpointConfigurator);
        ArgumentNullException.ThrowIfNull(consumerConfigurator);
        var batch = Math.Max(1, _options.BatchSize);
        consumerConfigurator.Options<BatchOptions>(o => o.SetMessageLimit(batch).SetTimeLimit(_options.BatchTimeLimit).SetConcurrencyLimit(1));
        endpointConfigurator.PrefetchCount = batch * 2;
        endpointConfigurator.UseMessageRetry(r => r.Intervals(1000, 5000, 15000));
    }
}
