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

    /// <summary>
    /// For a host that carries only some roles' code (each deployable its own image): sets <c>Roles</c> to
    /// <paramref name="carried"/> when it is unset, and throws at start when it names a role this host cannot run,
    /// saying which host runs it, instead of leaving that role's queue silently unserved.
    /// </summary>
    /// <param name="configuration">The process configuration.</param>
    /// <param name="host">This host's assembly name, for the message.</param>
    /// <param name="carried">The roles this host runs.</param>
    public static PipelineRoles ForHost(IConfiguration configuration, string host, params string[] carried)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(carried);
        configuration[Key] ??= string.Join(",", carried);
        var roles = From(configuration);
        if (roles._roles.FirstOrDefault(r => !carried.Contains(r)) is { } other)
        {
            throw new InvalidOperationException(
                $"Roles: '{other}' does not run in {host}, which runs {string.Join(", ", carried)}; start {HostOf(other)} for it.");
        }

        return roles;
    }

    private static string HostOf(string role) => role switch
    {
        Api => "PaliGemma2.DocPipeline.Api",
        Infer => "PaliGemma2.DocPipeline.InferenceWorker (the inference image)",
        _ => "PaliGemma2.DocPipeline.Worker",
    };

    /// <summary>Whether this process runs <paramref name="role"/>.</summary>
    /// <param name="role">One of the role constants.</param>
    public bool Has(string role) => _roles.Contains(role);

    /// <inheritdoc />
    public override string ToString() => string.Join(",", Known.Where(_roles.Contains));
}
