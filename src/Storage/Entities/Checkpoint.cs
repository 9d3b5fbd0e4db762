namespace PaliGemma2.DocPipeline.Storage.Entities;

/// <summary>A registered model directory; one active per task.</summary>
public sealed class Checkpoint
{
    /// <summary>Primary key.</summary>
    public Guid Id { get; set; }

    /// <summary>Task it serves.</summary>
    public required string Task { get; set; }

    /// <summary>Name, e.g. paligemma2-3b-pt-896-pubtabnet.</summary>
    public required string Name { get; set; }

    /// <summary>Version; (name, version) is unique.</summary>
    public required string Version { get; set; }

    /// <summary>Input resolution: 224, 448 or 896.</summary>
    public int Resolution { get; set; }

    /// <summary>Directory holding the graphs and tokenizer.</summary>
    public required string ModelDirectory { get; set; }

    /// <summary>SHA-256 over the directory's files.</summary>
    public required string Sha256 { get; set; }

    /// <summary>Prompt prefix.</summary>
    public required string PromptPrefix { get; set; }

    /// <summary>Generation limit.</summary>
    public int MaxNewTokens { get; set; }

    /// <summary>Post-processor name.</summary>
    public required string PostProcessor { get; set; }

    /// <summary>Whether it is the task's active checkpoint.</summary>
    public bool Active { get; set; }
}
