using Microsoft.Extensions.Configuration;

namespace PaliGemma2.DocPipeline.Pipeline.Hosting;

/// <summary>
/// The roles a process runs, from configuration key <c>Roles</c> (comma-separated, e.g. <c>Roles=prepare</c>).
/// Unset means every role, each still switched on by its own settings (drop folder path, inference tasks, PACS
/// settings): one process runs everything configured. Roles are the unit of deployment: <c>intake</c> is the
/// always-on singleton, <c>prepare</c> and <c>infer</c> scale with their queues, down to zero.
/// </summary>
public sealed class PipelineRoles
{
    /// <summary>Configuration key.</summary>
    public const string Key = "Roles";

    /// <summary>The HTTP API only: no background work (the Api's default).</summary>
    public const string Api = "api";

    /// <summary>Drop folder watcher, Orthanc change feed, <c>submit-document</c> queue intake, recovery loop.</summary>
    public const string Intake = "intake";

    /// <summary><c>prepare-document</c> consumer and the fault consumers.</summary>
    public const string Prepare = "prepare";

    /// <summary><c>infer-&lt;task&gt;</c> consumers for the tasks in <c>Inference:Tasks</c>.</summary>
    public const string Infer = "infer";

    /// <summary>PACS structured-report write-back consumers (when <c>Pacs:WriteBack:Enabled</c>).</summary>
    public const string WriteBack = "writeback";

    private static readonly string[] Known = [Api, Intake, Prepare, Infer, WriteBack];

    private readonly HashSet<string> _roles;

    private PipelineRoles(IEnumerable<string> roles) => _roles = new HashSet<string>(roles, StringComparer.Ordinal);

    /// <summary>Every role.</summary>
    public static PipelineRoles All { get; } = new(Known);

    /// <summary>Reads <c>Roles</c>; throws on a name that is not a role, so a typo does not leave a queue unserved.</summary>
    /// <param name="configuration">The process configuration.</param>
    public static PipelineRoles From(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var value = configuration[Key];
        if (value is null)
        {
            return All;
        }

        var roles = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(r => r.ToLowerInvariant()).ToList();
        if (roles.FirstOrDefault(r => !Known.Contains(r)) is { } unknown)
        {
            throw new InvalidOperationException($"Roles: '{unknown}' is not a role; use a comma-separated list of {string.Join(", ", Known)}.");
        }

        return new PipelineRoles(roles);
    }

    /// <summary>Whether this process runs <paramref name="role"/>.</summary>
    /// <param name="role">One of the role constants.</param>
    public bool Has(string role) => _roles.Contains(role);

    /// <inheritdoc />
    public override string ToString() => string.Join(",", Known.Where(_roles.Contains));
}
