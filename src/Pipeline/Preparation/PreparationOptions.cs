namespace PaliGemma2.DocPipeline.Pipeline.Preparation;

/// <summary>Bound from <c>Preparation</c>.</summary>
public sealed class PreparationOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Preparation";

    /// <summary>
    /// Input resolution pages are prepared for when the task has no registered checkpoint
    /// (PaliGemma 2's document checkpoints run at 896 px).
    /// </summary>
    public int DefaultResolution { get; set; } = 896;

    /// <summary>Scratch folder for renderer output; the system temp folder when empty.</summary>
    public string? ScratchRoot { get; set; }
}
