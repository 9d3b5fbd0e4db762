namespace PaliGemma2.DocPipeline.Inference.Serving;

/// <summary>Bound from <c>Inference</c>: which task queues this process serves and how it batches.</summary>
public sealed class InferenceOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Inference";

    /// <summary>
    /// Tasks this process serves, each with its checkpoint: a directory, or empty for the task's active
    /// checkpoint in the registry. A GPU worker serves one task; the embedded CLI may serve several.
    /// </summary>
    public Dictionary<string, string> Tasks { get; } = new(StringComparer.Ordinal);

    /// <summary>Largest batch decoded together.</summary>
    public int BatchSize { get; set; } = 4;

    /// <summary>How long a partial batch waits for more messages.</summary>
    public TimeSpan BatchTimeLimit { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Prefer the CUDA execution provider (falls back to CPU with a logged warning).</summary>
    public bool PreferCuda { get; set; } = true;

    /// <summary>Refuse to start when the CUDA execution provider cannot be loaded, instead of falling back to CPU.</summary>
    public bool RequireCuda { get; set; }

    /// <summary>ONNX Runtime intra-op threads per session; 0 lets ONNX Runtime choose (all cores).</summary>
    public int IntraOpThreads { get; set; }

    /// <summary>Name recorded on jobs; the host name when empty.</summary>
    public string? WorkerName { get; set; }
}
