namespace PaliGemma2.DocPipeline.Pipeline.Hosting;

/// <summary>Bound from <c>Pipeline</c>: which stages this process runs and over which transport.</summary>
public sealed class PipelineOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Pipeline";

    /// <summary>InMemory (embedded mode) or RabbitMq (distributed; connection string <c>RabbitMq</c>).</summary>
    public Transport Transport { get; set; } = Transport.InMemory;

    /// <summary>Run the preparation consumer (and its fault handler) in this process.</summary>
    public bool RunPreparation { get; set; } = true;

    /// <summary>Run the <c>submit-document</c> queue intake in this process.</summary>
    public bool RunQueueIntake { get; set; } = true;

    /// <summary>Apply EF Core migrations at start-up.</summary>
    public bool MigrateOnStart { get; set; } = true;
}

/// <summary>Message transport.</summary>
public enum Transport
{
    /// <summary>MassTransit in-memory transport: one process, nothing to install.</summary>
    InMemory,
    /// <summary>RabbitMQ: durable queues, publisher confirms, many processes.</summary>
    RabbitMq,
}
