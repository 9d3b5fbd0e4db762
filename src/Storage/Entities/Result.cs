namespace PaliGemma2.DocPipeline.Storage.Entities;

/// <summary>The output of one job; unique on <see cref="JobId"/> so a redelivery stores nothing twice.</summary>
public sealed class Result
{
    /// <summary>Primary key.</summary>
    public Guid Id { get; set; }

    /// <summary>Job it completes.</summary>
    public Guid JobId { get; set; }

    /// <summary>Task.</summary>
    public required string Task { get; set; }

    /// <summary>Checkpoint name.</summary>
    public required string Checkpoint { get; set; }

    /// <summary>Checkpoint version.</summary>
    public required string CheckpointVersion { get; set; }

    /// <summary>Prompt prefix given to the model.</summary>
    public required string PromptPrefix { get; set; }

    /// <summary>Decoded text as the model wrote it.</summary>
    public required string RawText { get; set; }

    /// <summary>Structured payload (JSON), validated against schemas/.</summary>
    public string? Payload { get; set; }

    /// <summary>Whether the payload validated.</summary>
    public bool Valid { get; set; }

    /// <summary>Validation errors (JSON array) when not valid.</summary>
    public string? ValidationErrors { get; set; }

    /// <summary>Prompt tokens including image tokens.</summary>
    public int PromptTokens { get; set; }

    /// <summary>Generated tokens.</summary>
    public int GeneratedTokens { get; set; }

    /// <summary>Prefill time (image encode + prompt) in milliseconds.</summary>
    public double PrefillMs { get; set; }

    /// <summary>Decode time in milliseconds.</summary>
    public double DecodeMs { get; set; }

    /// <summary>When it was stored.</summary>
    public DateTimeOffset CreatedAt { get; set; }
}
