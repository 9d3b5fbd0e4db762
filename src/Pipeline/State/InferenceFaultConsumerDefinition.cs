using MassTransit;

namespace PaliGemma2.DocPipeline.Pipeline.State;

/// <summary>Endpoint <c>inference-fault</c>: one at a time, retried while the database is away.</summary>
public sealed class InferenceFaultConsumerDefinition : ConsumerDefinition<InferenceFaultConsumer>
{
    /// <summary>Sets the endpoint name.</summary>
    public InferenceFaultConsumerDefinition()
    {
        EndpointName = "inference-fault";
        ConcurrentMessageLimit = 1;
    }

    /// <inheritdoc />
    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<InferenceFaultConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        ArgumentNullException.ThrowIfNull(endpointConfigurator);
        endpointConfigurator.UseMessageRetry(r => r.Intervals(500, 2000, 5000, 15000));
    }
}
