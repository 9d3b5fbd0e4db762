using MassTransit;
using Microsoft.Extensions.Options;

namespace PaliGemma2.DocPipeline.Pacs.WriteBack;

/// <summary>Endpoint <c>report-write-back</c>: bounded concurrency, exponential backoff between send attempts.</summary>
public sealed class ReportWriteBackConsumerDefinition : ConsumerDefinition<ReportWriteBackConsumer>
{
    /// <summary>Sets the endpoint name and concurrency.</summary>
    public ReportWriteBackConsumerDefinition(IOptions<WriteBackOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _retryLimit = Math.Max(0, options.Value.MaxAttempts - 1);
        EndpointName = "report-write-back";
        ConcurrentMessageLimit = 2;
    }

    // Retries after a failed send; the consumer marks the delivery failed on its last attempt.
    private readonly int _retryLimit;

    /// <inheritdoc />
    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<ReportWriteBackConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        ArgumentNullException.ThrowIfNull(endpointConfigurator);
        endpointConfigurator.UseMessageRetry(r => r.Exponential(_retryLimit, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(2)));
    }
}
