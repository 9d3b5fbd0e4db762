namespace PaliGemma2.DocPipeline.Pipeline.Intake;

/// <summary>Bound from <c>Intake</c>.</summary>
public sealed class IntakeOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Intake";

    /// <summary>Drop folder root holding one sub-folder per task; the watcher is off when empty.</summary>
    public string? DropFolder { get; set; }

    /// <summary>How often the drop folder is scanned.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How long a file's size and time must stay unchanged before it is taken.</summary>
    public TimeSpan StableFor { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Shared folder that <c>SubmitDocument</c> paths are relative to; the queue intake refuses
    /// everything when empty.
    /// </summary>
    public string? SharedRoot { get; set; }

    /// <summary>Documents still <c>received</c> after this long are announced again (a crash between commit and publish).</summary>
    public TimeSpan RepublishAfter { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long intake waits for the broker to take a new document's event before it reports the broker unavailable.</summary>
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Largest file accepted, the one limit every side reads: the API (uploads, STOW-RS parts) refuses bigger
    /// requests with 413 and preparation refuses bigger files from any intake (and deletes their blobs).
    /// </summary>
    public long MaxFileBytes { get; set; } = 200L << 20;
}
