using MassTransit;

namespace PaliGemma2.DocPipeline.Pipeline.Intake;

/// <summary>Endpoint <c>submit-document</c>.</summary>
public sealed class SubmitDocumentConsumerDefinition : ConsumerDefinition<SubmitDocumentConsumer>
{
    /// <summary>Sets the endpoint name and concurrency.</summary>
    public SubmitDocumentConsumerDefinition()
    {
        EndpointName = "submit-document";
        ConcurrentMessageLimit = 4;
    }

    /// <inheritdoc />
    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<SubmitDocumentConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        ArgumentNullException.ThrowIfNull(endpointConfigurator);
        endpointConfigurator.UseMessageRetry(r => r.Intervals(500, 2000, 5000));
    }
}
