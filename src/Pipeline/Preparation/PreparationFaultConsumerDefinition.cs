using MassTransit;

namespace PaliGemma2.DocPipeline.Pipeline.Preparation;

/// <summary>Endpoint <c>prepare-document-fault</c>.</summary>
public sealed class PreparationFaultConsumerDefinition : ConsumerDefinition<PreparationFaultConsumer>
{
    /// <summary>Sets the endpoint name.</summary>
    public PreparationFaultConsumerDefinition()
    {
        EndpointName = "prepare-document-fault";
        ConcurrentMessageLimit = 1;
    }

    /// <inheritdoc />
    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<PreparationFaultConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        ArgumentNullException.ThrowIfNull(endpointConfigurator);
        endpointConfigurator.UseMessageRetry(r => r.Intervals(500, 2000, 5000));
    }
}
