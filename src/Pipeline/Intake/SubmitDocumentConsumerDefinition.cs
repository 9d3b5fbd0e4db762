using MassTransit;

namespace PaliGemma2.DocPipeline.Pipeline.Intake;

/// <summary>Endpoint <c>submit-document</c>: plain JSON or envelope, validated against the schema, then retried on transient failures.</summary>
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
        // Other systems send plain JSON of the schema (application/json, or no content type at all) as well
        // as MassTransit's envelope (application/vnd.masstransit+json, still read by the bus's deserializer).
        endpointConfigurator.UseRawJsonDeserializer(RawSerializerOptions.AnyMessageType, isDefault: true);
        // A configured error pipe replaces MassTransit's default one: add the default (fault event, move to
        // submit-document_error) back after ours.
        endpointConfigurator.ConfigureError(e => e.UseFilter(new SubmitDocumentSchemaErrorFilter()));
        endpointConfigurator.ConfigureDefaultErrorTransport();
        endpointConfigurator.UseFilter(new SubmitDocumentSchemaFilter());
        endpointConfigurator.UseMessageRetry(r =>
        {
            // A message that breaks the schema or cannot be read stays broken: no retry.
            r.Ignore<InvalidSubmitDocumentException>();
            r.Ignore<System.Text.Json.JsonException>();
            r.Ignore<System.Runtime.Serialization.SerializationException>();
            r.Intervals(500, 2000, 5000);
        });
    }
}
