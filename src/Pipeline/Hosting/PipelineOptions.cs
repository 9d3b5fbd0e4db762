namespace PaliGemma2.DocPipeline.Pipeline.Hosting;

/// <summary>Bound from <c>Pipeline</c>: transport and process lifetime (which stages run: <see cref="PipelineRoles"/>).</summary>
public sealed class PipelineOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Pipeline";

    /// <summary>InMemory (embedded mode) or RabbitMq (distributed; connection string <c>RabbitMq</c>).</summary>
    public Transport Transport { get; set; } = Transport.InMemory;

    /// <summary>Apply EF Core migrations at start-up.</summary>
    public bool MigrateOnStart { get; set; } = true;

    /// <summary>
    /// On SIGTERM the process stops fetching and gets this long to finish the messages in hand (an inference batch)
    /// and acknowledge them; after it their tokens are cancelled and they go back to the queue. The host's own
    /// shutdown timeout is 15 s longer, so a deployment's grace period must be at least this plus 15 s.
    /// </summary>
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromMinutes(5);
}

/// <summary>Message transport.</summary>
public enum Transport
{
    /// <summary>MassTransit in-memory transport: one process, nothing to install.</summary>
    InMemory,
    /// <summary>RabbitMQ: durable queues, publisher confirms, many processes.</summary>
    RabbitMq,
}
