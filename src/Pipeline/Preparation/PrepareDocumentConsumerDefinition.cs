using MassTransit;

namespace PaliGemma2.DocPipeline.Pipeline.Preparation;

/// <summary>Endpoint <c>prepare-document</c>: renderers are CPU-bound, so concurrency follows the cores.</summary>
public sealed class PrepareDocumentConsumerDefinition : ConsumerDefinition<PrepareDocumentConsumer>
{
    /// <summary>Sets the endpoint name and concurrency.</summary>
    public PrepareDocumentConsumerDefinition()
    {
        EndpointName = "prepare-document";
        ConcurrentMessageLimit = Math.Max(1, Environment.ProcessorCount);
    }

    /// <inheritdoc />
    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<PrepareDocumentConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        ArgumentNullException.ThrowIfNull(endpointConfigurator);
        // Transient faults (database, disk) are retried; bad input never reaches here as an exception.
        endpointConfigurator.UseMessageRetry(r => r.Intervals(200, 1000, 5000));
    }
}
