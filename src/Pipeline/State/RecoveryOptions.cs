namespace PaliGemma2.DocPipeline.Pipeline.State;

/// <summary>Bound from <c>Recovery</c>: leases on in-flight work and how recovery treats work whose lease ran out.</summary>
public sealed class RecoveryOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Recovery";

    /// <summary>How often the recovery loop looks for expired leases.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Lease a preparing worker takes on a document; renewed every third of it while it renders.</summary>
    public TimeSpan PreparationLease { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Lease an inference worker takes on its batch's jobs; renewed every third of it while it decodes.</summary>
    public TimeSpan InferenceLease { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Starts after which work whose lease expired is failed (with the reason) instead of re-queued: a file or page
    /// that kills every worker that touches it must not circle forever.
    /// </summary>
    public int MaxAttempts { get; set; } = 3;
}
